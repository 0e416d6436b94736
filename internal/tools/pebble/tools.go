//go:build tools

// Package pebble pins the version of Let's Encrypt's Pebble ACME test
// server that kaj's router tests build and run. It is a module of its own
// so that Pebble never enters the main module's requirements; nothing in
// kaj imports it.
package pebble

import (
	_ "github.com/letsencrypt/pebble/v2/cmd/pebble"
	_ "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv"
)
