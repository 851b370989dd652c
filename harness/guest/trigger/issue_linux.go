package trigger

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/ksystest/ksystest/harness/proto"
)

// Call is what was done for a case: the values passed (in Args' order),
// the registers used for a raw call, and the result.
type Call struct {
	Passed []uint64
	// Regs are all six registers; the first NArgs are the call's.
	Regs  []uint64
	NArgs int
	// NR is the raw call's number; -1 for Go library paths.
	NR    int64
	Ret   int64
	Errno int
	// Effects is what a ViaEffects call did.
	Effects *proto.Effects
	// Contents are what the arguments that point to content pointed to
	// (Resolved.Contents).
	Contents [][]byte
}

// Issue makes c's call on t.
func Issue(t *Thread, c proto.Case, res Resources) (Call, error) {
	r, err := ResolveArgs(c.Args, res)
	if err != nil {
		return Call{}, err
	}
	// On a 32-bit arch a register or a Go int holds 32 bits: what is
	// passed is what fits, and that is what a probe must see.
	for i := range r.Values {
		if !r.Derived[i] {
			r.Values[i] = uint64(uintptr(r.Values[i]))
		}
	}
	var call Call
	switch c.Via {
	case "", proto.ViaRaw, proto.ViaEffects:
		call, err = issueRaw(t, c, r, res)
	case proto.ViaGoMmap:
		call, err = goMmap(t, r.Values)
	case proto.ViaGoConnect, proto.ViaGoNetDial:
		call, err = goConnect(t, c, r)
	default:
		return Call{}, fmt.Errorf("unknown via %q", c.Via)
	}
	call.Contents = r.Contents
	return call, err
}

func issueRaw(t *Thread, c proto.Case, r Resolved, res Resources) (Call, error) {
	nr, err := SyscallNumber(c.Syscall)
	if err != nil {
		return Call{}, err
	}
	args := r.Registers()
	regs := args
	if len(c.Order) > 0 {
		if len(c.Order) != len(args) {
			return Call{}, fmt.Errorf("order has %d entries for %d arguments", len(c.Order), len(args))
		}
		regs = make([]uint64, len(args))
		for i, from := range c.Order {
			if from < 1 || from > len(args) {
				return Call{}, fmt.Errorf("order entry %d out of range", from)
			}
			regs[i] = args[from-1]
		}
	}
	if c.Pack {
		// An array of the ABI's longs: 4 bytes each on 32-bit arches.
		word := int(unsafe.Sizeof(uintptr(0)))
		mem := make([]byte, word*len(regs))
		for i, v := range regs {
			if word == 4 {
				nativeEndian.PutUint32(mem[4*i:], uint32(v))
			} else {
				nativeEndian.PutUint64(mem[8*i:], v)
			}
		}
		addr, err := res.Buffer(len(mem), mem)
		if err != nil {
			return Call{}, err
		}
		regs = []uint64{addr}
	}
	n := len(regs)
	for i := n; i < 6; i++ {
		regs = append(regs, uint64(uintptr(proto.Pad(i))))
	}
	if c.Via == proto.ViaEffects {
		if c.Syscall != "clone" {
			return Call{}, fmt.Errorf("%s: ksystest observes the effects of clone only", c.Syscall)
		}
		call, eff := cloneEffects(t, nr, regs, r, res)
		call.Regs, call.NArgs, call.Effects = regs, n, eff
		return call, nil
	}
	ret, errno := t.Raw(nr, regs)
	return Call{Passed: r.Values, Regs: regs, NArgs: n, NR: int64(nr), Ret: ret, Errno: errno}, nil
}

// goMmap maps through syscall.Mmap, as Go programs do: on s390x that is
// old_mmap with a struct, elsewhere a six-register mmap. Args: addr (Go
// always passes 0), len, prot, flags, fd, off.
func goMmap(t *Thread, v []uint64) (Call, error) {
	if len(v) != 6 || v[0] != 0 {
		return Call{}, errors.New("go:syscall.Mmap takes addr 0, len, prot, flags, fd, off")
	}
	c := Call{Passed: v, NR: -1}
	t.Do(func() {
		mem, err := syscall.Mmap(int(int64(v[4])), int64(v[5]), int(v[1]), int(v[2]), int(v[3]))
		c.Errno = errnoOf(err)
		if err == nil {
			c.Ret = 0
			syscall.Munmap(mem)
		} else {
			c.Ret = -1
		}
	})
	return c, nil
}

// goConnect connects through Go: syscall.Socket + syscall.Connect, or
// net.Dialer.Dial. Args: fd (learned from the socket Go makes), uservaddr
// (Go's own buffer: reported as 0), addrlen, deref of uservaddr. The
// address comes from the uservaddr spec (sockaddr:IP:PORT).
func goConnect(t *Thread, c proto.Case, r Resolved) (Call, error) {
	if len(c.Args) != 4 {
		return Call{}, fmt.Errorf("%s takes fd, uservaddr, addrlen, deref:2", c.Via)
	}
	ap, err := Sockaddr(strings.TrimPrefix(c.Args[1].Value, "sockaddr:"))
	if err != nil {
		return Call{}, fmt.Errorf("argument 2: %w", err)
	}
	call := Call{Passed: []uint64{0, 0, 16, SockaddrHead(ap)}, NR: -1}
	t.Do(func() {
		var err error
		if c.Via == proto.ViaGoConnect {
			var fd int
			fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err == nil {
				call.Passed[0] = uint64(fd)
				a4 := ap.Addr().As4()
				err = syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a4})
				syscall.Close(fd)
			}
		} else {
			d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) { call.Passed[0] = uint64(fd) })
			}}
			var conn net.Conn
			if conn, err = d.Dial("tcp4", ap.String()); err == nil {
				conn.Close()
			}
		}
		call.Errno = errnoOf(err)
		if err != nil {
			call.Ret = -1
		}
	})
	return call, nil
}

func errnoOf(err error) int {
	var e syscall.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	if err != nil {
		return -1
	}
	return 0
}
