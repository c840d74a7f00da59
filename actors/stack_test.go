package actors

import "testing"

// deep uses about n × 128 bytes of stack through n frames, as a command's
// handling does through a parser's and pebble's calls.
//
//go:noinline
func deep(n int) int {
	var pad [96]byte
	pad[n%96] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return deep(n-1) + int(pad[n%96])
}

// A fresh goroutine (as hollywood starts for each burst of an actor's
// messages) doing deep work: with growStack first, its stack is grown once
// while shallow instead of copied deep down.
// go test ./actors -run '^$' -bench FreshGoroutine -count 3
func BenchmarkFreshGoroutineDeepWork(b *testing.B) {
	for _, c := range []struct {
		name string
		grow bool
	}{{"as-is", false}, {"growStack", true}} {
		b.Run(c.name, func(b *testing.B) {
			done := make(chan int)
			for b.Loop() {
				go func() {
					if c.grow {
						growStack()
					}
					done <- deep(120)
				}()
				<-done
			}
		})
	}
}
