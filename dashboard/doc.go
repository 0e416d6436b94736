// Package dashboard is kaj's web UI: the html/template pages, the
// stylesheet and the small JavaScript modules for the live parts, all
// embedded in the binary. It knows nothing of HTTP or of the engine: the
// server gathers the data into the view types below and asks a Renderer
// to write the page; the scripts talk to the REST API and websockets.
//
// # Pages
//
// Each page is templates/<name>.html. It defines "title" and "main", and
// may define "fragment-<part>" blocks that the scripts refetch on their
// own (the apps table, an app's status) so live updates reuse the
// server's markup instead of copying it into JavaScript.
//
// # Assets
//
// Static files are served under /static/<version>/, where version is a
// hash of their content: a URL names one version of a file forever, so
// browsers may cache it for a year, and a new kaj is never served stale
// scripts. The ES modules import each other by relative path, which keeps
// the version in every URL. No build step, no CDN: kaj works offline.
package dashboard
