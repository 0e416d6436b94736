// Package apps owns an app's life: it creates, updates, instantiates from
// a template, deploys, rolls back, stops, starts, restarts and deletes
// apps, with their defaults, generated credentials and audit actions
// decided here and nowhere else. It also holds the one read model of an
// app's state (View), which the API, the websockets and the dashboard all
// show.
//
// # Layers
//
// server and dashboard translate HTTP and templates into calls here; the
// work itself is done by deploy (the pipeline), store (the state) and
// the router (the front door), which this package wires together.
//
// # Concurrency
//
// A Service is safe for concurrent use. Operations on one app are
// serialised by the deployer: a second one gets deploy.ErrBusy.
package apps
