//go:build !race

package microblog

const raceEnabled = false
