// Package api tests kaj end to end through its REST API and websockets,
// against the real Docker Engine: templates, deploys, failed deploys,
// rollbacks, logs, pushes and crash recovery.
package api
