//go:build race

package microblog

// raceEnabled passes the race detector on to the go test this package runs.
const raceEnabled = true
