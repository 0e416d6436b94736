// Package build turns an app's source into an image in the engine: it
// fetches a git repository (shallow, single branch, the commit recorded)
// or takes a context uploaded by the client, honours .dockerignore, lints
// the Dockerfile with kaj's own linter, and builds through the Engine
// API, streaming every line of the build to the job.
//
// # Pipeline
//
// fetch → lint → build → tag → (push) → prune. Lint runs before the
// engine sees anything: findings at or above the app's threshold (errors,
// by default) stop the build with the findings in the job and the error.
// Every image is tagged kaj/<app>:<release> and, for a git build,
// kaj/<app>:<commit>; the kaj/ namespace keeps a build from shadowing a
// registry image of the same name in the engine (an app called "redis"
// must not turn the engine's redis:3 into its own build).
//
// # Builder
//
// Builds use the engine's classic builder through ImageBuild with a tar
// context. BuildKit through the Engine API needs a client session (a gRPC
// stream over a hijacked connection) for build secrets and local
// contexts; until kaj speaks it, secret build args are passed as plain
// build args with a warning in the job, since the classic builder has no
// secret mounts. The engine's layer cache is used as `docker build` uses
// it: an unchanged commit rebuilds from cache in seconds, because a git
// checkout's files get the commit's time and the .git folder is left out
// of the context.
//
// # Concurrency
//
// A Builder is safe for concurrent use. One build per app at a time is
// the caller's rule (the deployer's per-app lock holds during a build).
package build
