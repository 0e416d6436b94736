kaj:docker/Dockerfile prod:11: DL3059 info: Multiple consecutive `RUN` instructions. Consider consolidation.
kaj:docker/Dockerfile prod:16: DL3059 info: Multiple consecutive `RUN` instructions. Consider consolidation.
kaj:docker/Dockerfile prod:18: DL3066 info: Non-numeric user-id may not be resolvable by host system
