//go:build amd64 || arm64 || s390x || mips64le || ppc64le || riscv64

package trigger

import "golang.org/x/sys/unix"

// syscalls64 are the syscalls only 64-bit guests' cases use. On s390x,
// mmap is number 90, old_mmap: cases say so with pack.
var syscalls64 = map[string]uintptr{
	"mmap": unix.SYS_MMAP,
}
