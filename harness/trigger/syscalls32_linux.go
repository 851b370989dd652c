//go:build 386 || arm || mipsle

package trigger

// syscalls64 is empty on 32-bit arches: their mmap is mmap2, with the
// offset in pages, which no raw case makes.
var syscalls64 = map[string]uintptr{}
