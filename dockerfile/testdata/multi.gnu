kaj:a/Dockerfile:11: DL3059 info: Multiple consecutive `RUN` instructions. Consider consolidation.
