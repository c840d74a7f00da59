//go:build !unix

package procs

import "time"

// processCPU is unknown here: Run leaves GOMAXPROCS alone.
func processCPU() time.Duration { return -1 }
