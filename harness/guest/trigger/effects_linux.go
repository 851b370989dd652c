package trigger

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/proto"
	"golang.org/x/sys/unix"
)

// tlsValue is the thread pointer a real child gets: distinctive, and
// below every arch's user address limit (x86_64 refuses a non-canonical
// FS base).
const tlsValue = 0x55c1_5000

// userDescEntry is the GDT entry a user_desc for clone names: clone does
// not allocate one (entry_number -1 is EINVAL there, unlike
// set_thread_area), and i386's TLS entries are 6 to 8, of which Go takes
// the first free one for itself.
const userDescEntry = 8

// TLS returns clone's tls argument for this arch: the thread pointer, or
// on i386 the address of a struct user_desc setting TLS entry
// userDescEntry to be based there.
func (g *GuestResources) TLS() (arg, want uint64, err error) {
	a, err := arch.ByGOARCH(runtime.GOARCH)
	if err != nil {
		return 0, 0, err
	}
	if !a.TLS.UserDesc {
		return tlsValue, tlsValue, nil
	}
	desc := make([]byte, 16)
	nativeEndian.PutUint32(desc[0:], userDescEntry)
	nativeEndian.PutUint32(desc[4:], tlsValue) // base_addr
	nativeEndian.PutUint32(desc[8:], 0xfffff)  // limit
	// seg_32bit, limit_in_pages, useable
	nativeEndian.PutUint32(desc[12:], 1|1<<4|1<<6)
	addr, err := g.Buffer(len(desc), desc)
	return addr, tlsValue, err
}

// cloneEffects makes a real clone with regs (in the kernel's order) on
// t, and reads what the kernel did: the child, stopped before it can run
// any Go code, is traced and read, then killed.
func cloneEffects(t *Thread, nr uintptr, regs []uint64, r Resolved, res Resources) (Call, *proto.Effects) {
	var a [6]uintptr
	for i, v := range regs {
		a[i] = uintptr(v)
	}
	eff := &proto.Effects{TLSWant: r.TLSWant, Buffer: r.Buffer}
	call := Call{Passed: r.Values, NR: int64(nr)}
	t.Do(func() {
		pid, errno := rawClone(nr, a)
		if errno != 0 {
			call.Ret, call.Errno = -1, int(errno)
			eff.Error = "clone: " + errno.Error()
			return
		}
		call.Ret = int64(pid)
		eff.ChildTID = uint32(pid)
		defer reap(int(pid))
		var ws unix.WaitStatus
		if _, err := unix.Wait4(int(pid), &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
			eff.Error = fmt.Sprintf("the child did not stop for its tracer (%v, status %#x)", err, uint32(ws))
			return
		}
		for i, v := range r.Values {
			var pw, cw uint32
			if r.Buffer[i] {
				b, err := res.Peek(v, 4)
				if err == nil {
					pw = nativeEndian.Uint32(b)
					cw, err = peek32(int(pid), uintptr(v))
				}
				if err != nil {
					eff.Error = err.Error()
				}
			}
			eff.Parent = append(eff.Parent, pw)
			eff.Child = append(eff.Child, cw)
		}
		tls, err := readTLS(int(pid))
		if err != nil {
			eff.Error = "read the child's thread pointer: " + err.Error()
		}
		eff.TLS = tls
	})
	return call, eff
}

// rawClone is clone with the child's side in the same function: the
// child asks to be traced, stops itself and never returns into Go. Only
// raw system calls run there, which touch neither the Go stack nor TLS
// (CLONE_SETTLS has just changed the thread pointer).
//
//go:nosplit
//go:norace
func rawClone(nr uintptr, a [6]uintptr) (uintptr, syscall.Errno) {
	r1, _, e := syscall.RawSyscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	if e != 0 {
		return 0, e
	}
	if r1 == 0 {
		syscall.RawSyscall(syscall.SYS_PTRACE, syscall.PTRACE_TRACEME, 0, 0)
		self, _, _ := syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
		syscall.RawSyscall(syscall.SYS_KILL, self, uintptr(syscall.SIGSTOP), 0)
		for {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
	}
	return r1, 0
}

// reap kills the traced child and waits for it.
func reap(pid int) {
	unix.Kill(pid, unix.SIGKILL)
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, unix.WALL, nil)
}

func peek32(pid int, addr uintptr) (uint32, error) {
	var b [4]byte
	if _, err := unix.PtracePeekData(pid, addr, b[:]); err != nil {
		return 0, fmt.Errorf("read the child's memory at %#x: %w", addr, err)
	}
	return nativeEndian.Uint32(b[:]), nil
}

// ptraceGetRegset and ptraceGetThreadArea are PTRACE_GETREGSET and
// PTRACE_GET_THREAD_AREA (whose request number differs by arch).
const ptraceGetRegset = 0x4204

// readTLS reads the stopped child's thread pointer where the arch table
// says a tracer finds it.
func readTLS(pid int) (uint64, error) {
	a, err := arch.ByGOARCH(runtime.GOARCH)
	if err != nil {
		return 0, err
	}
	t := a.TLS
	switch {
	case t.Regset != 0:
		buf := make([]byte, 4096)
		iov := unix.Iovec{Base: &buf[0]}
		iov.SetLen(len(buf))
		_, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceGetRegset, uintptr(pid), uintptr(t.Regset), uintptr(unsafe.Pointer(&iov)), 0, 0)
		if e != 0 {
			return 0, e
		}
		if int(iov.Len) < t.Offset+t.Size {
			return 0, fmt.Errorf("regset %#x holds %d bytes", t.Regset, iov.Len)
		}
		if t.Size == 4 {
			return uint64(nativeEndian.Uint32(buf[t.Offset:])), nil
		}
		return nativeEndian.Uint64(buf[t.Offset:]), nil
	case t.UserDesc:
		// The user_desc the tls argument pointed to named the entry.
		idx := userDescEntry
		desc := make([]byte, 16)
		_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(t.ThreadArea), uintptr(pid), uintptr(idx), uintptr(unsafe.Pointer(&desc[0])), 0, 0)
		if e != 0 {
			return 0, e
		}
		return uint64(nativeEndian.Uint32(desc[4:])), nil
	default:
		var tp uintptr
		_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(t.ThreadArea), uintptr(pid), 0, uintptr(unsafe.Pointer(&tp)), 0, 0)
		if e != 0 {
			return 0, e
		}
		return uint64(tp), nil
	}
}
