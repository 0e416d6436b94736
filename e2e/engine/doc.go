// Package engine tests kaj end to end against a Docker engine that hangs:
// a socket in front of the real engine that takes connections and never
// answers, until told to pass them on.
package engine
