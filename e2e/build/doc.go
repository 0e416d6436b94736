// Package build tests building from source end to end, against the real
// Docker Engine and a real git server on loopback (Debian's git daemon):
// an app built from a repository's Dockerfile_prod in a subfolder, a
// push webhook that builds and deploys the new commit, the refusals
// (bad signature, replay, another branch), and `kaj deploy --context`
// from the command line against kaj running as its own process.
package build
