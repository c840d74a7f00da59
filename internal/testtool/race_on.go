//go:build race

package testtool

// Race tells whether the race detector is on: it changes what allocates
// (sync.Pool drops items at random, checks keep values on the heap), so
// allocation counts are asserted only without it.
const Race = true
