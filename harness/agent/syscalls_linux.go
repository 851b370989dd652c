package agent

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syscallNumbers maps the syscall names cases use to this GOARCH's numbers.
// Extend it (or add a per-arch file) when a case needs a new syscall.
var syscallNumbers = map[string]uintptr{
	"write":  unix.SYS_WRITE,
	"prctl":  unix.SYS_PRCTL,
	"splice": unix.SYS_SPLICE,
	"getpid": unix.SYS_GETPID,
}

// SyscallNumber returns the number of the named syscall on this arch.
func SyscallNumber(name string) (uintptr, error) {
	nr, ok := syscallNumbers[name]
	if !ok {
		return 0, fmt.Errorf("syscall %q unknown to the agent on %s", name, runtime.GOARCH)
	}
	return nr, nil
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

// Issue makes syscall nr with args on the thread, padding to six arguments.
func (t *Thread) Issue(nr uintptr, args []uint64) (ret int64, errno int) {
	var a [6]uintptr
	for i, v := range args {
		a[i] = uintptr(v)
	}
	t.Do(func() {
		r, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		ret, errno = int64(r), int(e)
	})
	return ret, errno
}

// guestResources opens files and allocates buffers that stay alive for the
// agent's whole life, so a pointer passed to one case is never reused.
type guestResources struct {
	mu   sync.Mutex
	bufs [][]byte
}

func (g *guestResources) OpenFD(path string) (uint64, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	return uint64(fd), nil
}

func (g *guestResources) Buffer(size int) (uint64, error) {
	b := make([]byte, size)
	for i := range b {
		b[i] = "ksystest\n"[i%9]
	}
	g.mu.Lock()
	g.bufs = append(g.bufs, b)
	g.mu.Unlock()
	return uint64(uintptr(unsafe.Pointer(&b[0]))), nil
}
