package actors

// deepStack is the stack a command's handling can reach (a CMS parse, a
// JSON decode, a log look-up through pebble's iterators), less what is in
// use when a message arrives.
const deepStack = 16 << 10

// stackNever is false: it keeps growStack's frame without ever using it.
var stackNever bool

// growStack makes the calling goroutine's stack big enough for a command's
// deepest path, while the stack is still shallow. hollywood runs each
// burst of an actor's messages on a new goroutine, with a small stack;
// a command then grew it twice, deep inside, where copying it means
// adjusting every frame (runtime.newstack was 9% of the server's CPU
// under `senim load`). Grown here, the copy is of a few frames. The frame
// is only reserved, not written: a goroutine whose stack is already big
// enough pays a comparison.
//
//go:noinline
func growStack() {
	if stackNever {
		var frame [deepStack]byte
		useFrame(frame[:])
	}
}

//go:noinline
func useFrame(b []byte) { b[0] = 1 }
