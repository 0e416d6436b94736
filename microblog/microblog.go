// Package microblog is the Microblog sample app: the Go port of the app in
// the Flask Mega-Tutorial's "Deployment on Docker Containers" lesson.
//
// The program is cmd/microblog; its parts live in the packages below this
// one. This package holds the production Dockerfile for build tooling
// (package image). The app is self-contained: no package of the app
// imports anything of the repository outside microblog/.
package microblog

import _ "embed"

// DockerfileProd is the text of Dockerfile_prod, the production image's
// recipe. Its build context holds the static binary "microblog" and an
// empty directory "data".
//
//go:embed Dockerfile_prod
var DockerfileProd string
