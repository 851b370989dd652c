//go:build 386 || arm

package trigger

// syscalls64 is empty for the 32-bit compat helper: it only makes the
// common calls.
var syscalls64 = map[string]uintptr{}
