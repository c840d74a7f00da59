package sfu

// OnDrain has f told of each drain of a track's pump (pump.go), on the
// goroutine that runs it, until the returned function is called.
func OnDrain(f func()) (restore func()) {
	drainHook.Store(&f)
	return func() { drainHook.Store(nil) }
}
