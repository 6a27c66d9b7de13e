//go:build race

package runtime

// raceEnabled reports a -race build, where sync.Pool drops items at
// random: allocation counts through a pool mean nothing then.
const raceEnabled = true
