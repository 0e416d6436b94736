// Package registry moves container images between registries and the
// Docker Engine: it resolves references to digests, pulls images into the
// engine, tags them there and in registries, and pushes the engine's
// images. It knows nothing of HTTP handlers or deploys, and uses only
// go-containerregistry and the moby client.
//
// # Basics
//
// Make one Client with New and share it; it is safe for concurrent use.
// References are normalised as the docker CLI does: "microblog:1.0.0-prod"
// is index.docker.io/library/microblog:1.0.0-prod (see ParseReference).
//
//	c, err := registry.New(registry.Options{Engine: engine, Credentials: lookup})
//	img, err := c.Resolve(ctx, "microblog:1.0.0-prod") // digest, no layer download
//	res, err := c.Pull(ctx, img.Pinned(), onProgress)   // that digest, tagged 1.0.0-prod
//	out, err := c.Push(ctx, "microblog:dev", "reg.example.com/team/microblog:1.1", onProgress)
//
// # Credentials
//
// For each registry host, Options.Credentials (kaj's encrypted store) is
// asked first; when it holds nothing, the user's Docker config is used
// (~/.docker/config.json and its credential helpers), and then anonymous
// access. TestCredentials checks a pair the way docker login does.
//
// # Plain HTTP
//
// Registries are reached over HTTPS. Plain HTTP is used only for loopback
// hosts (127.0.0.0/8, ::1, localhost) and hosts listed in
// Options.Insecure; elsewhere it is refused with ErrPlainHTTP, even where
// go-containerregistry alone would fall back to it (private addresses).
//
// # Errors
//
// Failures come back as *Error values whose Kind is one of the sentinel
// errors (ErrBadCredentials, ErrUnknownRepository, ErrRateLimited, ...),
// wrapped in a phrase saying what was being done. Match them with
// errors.Is; errors.As gives the registry's name and, when rate limited,
// RetryAfter. Answers 408, 500, 502, 503 and 504, reset connections and
// timeouts are retried following Options.Backoff; a 429 is not, since the
// registry said when to come back.
//
// # Progress
//
// Pull and Push take a ProgressFunc that receives per-layer events; for
// each layer Done never decreases and the last event ends at Total.
//
// # How images travel
//
// Pull lets the engine pull by digest with kaj's credentials when the
// engine can reach the registry as kaj does: it downloads layers in
// parallel, unpacks while downloading and skips layers it has. Otherwise,
// or if the engine's pull fails, kaj downloads the image itself and
// streams it into the engine's image load, which takes about a third
// longer on the benchmark below (the engine unpacks only once it has the
// whole archive) but obeys kaj's own TLS and plain-HTTP rules, which the
// engine's pull cannot.
//
// Push exports the image from the engine, compresses each layer once at
// gzip's fastest level, several at a time, and uploads what the registry
// lacks; the engine's own push compresses at gzip's default level,
// several times slower per byte, and is slower on the benchmark below. The compression is deterministic, so a layer
// pushed before is found in its repository by digest. A Client also
// remembers which repositories of a registry hold which layers (from
// pushes and resolves) and has the registry mount a layer from a sibling
// repository instead of uploading it again. Before exporting anything,
// Push checks that the registry answers and accepts the credentials.
//
// BenchmarkPushPull measures both directions against docker push and
// docker pull.
package registry
