// Package image tests kaj's production images: that kaj's own and
// Microblog's Dockerfiles pass kaj's linter with every rule on, and that
// kaj's image, built on the spot through the engine API, runs as an
// unprivileged user against the host's engine through the mounted socket.
package image
