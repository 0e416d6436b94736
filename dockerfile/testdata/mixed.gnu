kaj:docker/Dockerfile prod:1: DL3006 warning: Always tag the version of an image explicitly
kaj:docker/Dockerfile prod:2: DL3048 style: Invalid label key.
kaj:docker/Dockerfile prod:3: DL3020 error: Use COPY instead of ADD for files and folders
kaj:docker/Dockerfile prod:5: DL3059 info: Multiple consecutive `RUN` instructions. Consider consolidation.
