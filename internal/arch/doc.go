// Package arch holds the test that pins kaj's package arrows (DESIGN.md):
// which packages each may import, so a shortcut across layers fails the
// build's tests rather than slowly eroding the design.
package arch
