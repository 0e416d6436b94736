// Package swarm runs kaj against a real three-node Docker Swarm on this
// machine (see swarmtest): apps with replicas across the nodes behind
// kaj's router, rolling updates under load, a failed update rolled back,
// a node lost, a database pinned to the node that holds its data. The
// tests skip where nested engines cannot run, and fail instead under
// KAJ_REQUIRE_DOCKER=1.
package swarm
