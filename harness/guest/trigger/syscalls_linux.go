package trigger

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ksystest/ksystest/harness/syscalls"
	"golang.org/x/sys/unix"
)

var nativeEndian = binary.NativeEndian

// SyscallNumber returns the number of the named syscall in this
// program's ABI, from the tables generated from the kernel's own
// (harness/syscalls).
func SyscallNumber(name string) (uintptr, error) {
	abi, ok := syscalls.ForGOARCH(runtime.GOARCH)
	if !ok {
		return 0, fmt.Errorf("no syscall table for GOARCH %s", runtime.GOARCH)
	}
	sc, ok := syscalls.Lookup(abi, name)
	if !ok {
		return 0, fmt.Errorf("syscall %q does not exist in the %s ABI", name, abi)
	}
	return uintptr(sc.NR), nil
}

// Thread runs functions on one locked OS thread, so every syscall of every
// case comes from the same thread id, which the probes filter on.
type Thread struct {
	TID  int
	work chan func()
}

// NewThread starts the thread and waits until it knows its id.
func NewThread() *Thread {
	t := &Thread{work: make(chan func())}
	ready := make(chan int)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ready <- unix.Gettid()
		for f := range t.work {
			f()
		}
	}()
	t.TID = <-ready
	return t
}

// Do runs f on the thread and waits for it.
func (t *Thread) Do(f func()) {
	done := make(chan struct{})
	t.work <- func() { f(); close(done) }
	<-done
}

// Raw makes syscall nr with args on the thread, padding to six arguments.
func (t *Thread) Raw(nr uintptr, args []uint64) (ret int64, errno int) {
	var a [6]uintptr
	for i, v := range args {
		a[i] = uintptr(v)
	}
	t.Do(func() {
		r, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		ret, errno = int64(int(r)), int(e) // sign-extend 32-bit returns
	})
	return ret, errno
}

// GuestResources opens files and allocates buffers that stay alive for
// the process's whole life, so a pointer passed to one case is never
// reused by another.
type GuestResources struct {
	mu   sync.Mutex
	bufs map[uint64][]byte
}

// OpenFD opens path read-write.
func (g *GuestResources) OpenFD(path string) (uint64, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	return uint64(fd), nil
}

// Socket makes an AF_INET stream socket.
func (g *GuestResources) Socket() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	return uint64(fd), nil
}

// Buffer allocates size bytes, filled with data or a pattern.
func (g *GuestResources) Buffer(size int, data []byte) (uint64, error) {
	b := make([]byte, max(size, 8))
	for i := range b {
		b[i] = "ksystest\n"[i%9]
	}
	copy(b, data)
	addr := uint64(uintptr(unsafe.Pointer(&b[0])))
	g.mu.Lock()
	if g.bufs == nil {
		g.bufs = map[uint64][]byte{}
	}
	g.bufs[addr] = b
	g.mu.Unlock()
	return addr, nil
}

// Peek returns a copy of the first n bytes of a buffer Buffer made.
func (g *GuestResources) Peek(addr uint64, n int) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.bufs[addr]
	if !ok || len(b) < n {
		return nil, fmt.Errorf("%#x is not a buffer of this case", addr)
	}
	return append([]byte(nil), b[:n]...), nil
}
