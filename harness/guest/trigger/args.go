// Package trigger issues a case's syscall in the guest: it turns argument
// specs into values (opening files, allocating buffers, building socket
// addresses), puts them in registers in the arch's order, and makes the
// call raw or through a Go standard library path. It is shared by the agent
// and the 32-bit compat helper, so it must not import cilium/ebpf.
package trigger

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ksystest/ksystest/harness/proto"
)

// Resources provides what argument specs point at. The real one opens
// files and allocates memory in the guest; tests fake it.
type Resources interface {
	OpenFD(path string) (uint64, error)
	Socket() (uint64, error)
	// Buffer returns the address of size bytes filled with a pattern, or
	// with data when it is not nil.
	Buffer(size int, data []byte) (uint64, error)
	// Peek returns the first n bytes (now) at an address Buffer returned.
	Peek(addr uint64, n int) ([]byte, error)
	// TLS returns what to pass as clone's tls argument for a real child:
	// a distinctive thread pointer, or where CLONE_SETTLS takes a struct
	// user_desc (i386), the address of one asking for that thread
	// pointer. want is the thread pointer the child should get.
	TLS() (arg, want uint64, err error)
}

// ParseNumber reads a literal argument: decimal, 0x hex, or negative
// decimal (passed as its two's complement, as the syscall ABI does).
func ParseNumber(s string) (uint64, error) {
	if strings.HasPrefix(s, "-") {
		v, err := strconv.ParseInt(s, 0, 64)
		return uint64(v), err
	}
	return strconv.ParseUint(s, 0, 64)
}

// Sockaddr parses "IP:PORT" (IPv4).
func Sockaddr(spec string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(spec)
	if err != nil || !ap.Addr().Is4() {
		return netip.AddrPort{}, fmt.Errorf("want IPv4:PORT, got %q", spec)
	}
	return ap, nil
}

// Resolved holds argument values and which of them are derived (deref:N):
// reported, not passed.
type Resolved struct {
	Values  []uint64
	Derived []bool
	// Buffer marks the arguments that are addresses of buffers the agent
	// made (buf:N, sockaddr:).
	Buffer []bool
	// TLSArg is the index of the tls argument (-1: none), and TLSWant the
	// thread pointer it asks for.
	TLSArg  int
	TLSWant uint64
	// Contents are, for the arguments that point to content (str:,
	// sockaddr:, buf:), the bytes they point to (a string without its
	// NUL), at most MaxContent of them; nil for the others.
	Contents [][]byte
}

// MaxContent bounds the content of an argument the agent reports: a
// probe's copy is compared with at most this much.
const MaxContent = 4096

// Registers returns the passed (not derived) values in argument order.
func (r Resolved) Registers() []uint64 {
	var regs []uint64
	for i, v := range r.Values {
		if !r.Derived[i] {
			regs = append(regs, v)
		}
	}
	return regs
}

// ResolveArgs turns argument specs into values:
//
//	a number            passed as is
//	fd:PATH             an fd for PATH, opened read-write
//	buf:N               the address of an N-byte buffer
//	str:TEXT            the address of TEXT, NUL-terminated
//	socket:inet         an AF_INET stream socket
//	sockaddr:IP:PORT    the address of a struct sockaddr_in
//	deref:N             not passed: the first 8 bytes argument N points to
//	tls                 a thread pointer for clone(CLONE_SETTLS) (see Resources.TLS)
//	any                 decided by the code path making the call (reported as 0 until then)
func ResolveArgs(args []proto.Arg, res Resources) (Resolved, error) {
	r := Resolved{Values: make([]uint64, len(args)), Derived: make([]bool, len(args)), Buffer: make([]bool, len(args)), TLSArg: -1,
		Contents: make([][]byte, len(args))}
	var derefs []int
	for i, a := range args {
		kind, rest, hasKind := strings.Cut(a.Value, ":")
		var (
			v   uint64
			err error
		)
		switch {
		case a.Value == "any":
		case a.Value == "tls":
			v, r.TLSWant, err = res.TLS()
			r.TLSArg = i
		case !hasKind:
			v, err = ParseNumber(a.Value)
		case kind == "fd":
			v, err = res.OpenFD(rest)
		case kind == "buf":
			var n int
			n, err = strconv.Atoi(rest)
			if err == nil && (n <= 0 || n > 1<<20) {
				err = fmt.Errorf("size %d out of range 1..1MiB", n)
			}
			if err == nil {
				v, err = res.Buffer(n, nil)
				r.Buffer[i] = true
			}
			if err == nil {
				var b []byte
				b, err = res.Peek(v, min(n, MaxContent))
				r.Contents[i] = b
			}
		case kind == "str":
			if strings.ContainsRune(rest, 0) || len(rest) >= MaxContent {
				err = fmt.Errorf("a string of at most %d bytes, without NUL", MaxContent-1)
				break
			}
			v, err = res.Buffer(len(rest)+1, append([]byte(rest), 0))
			r.Buffer[i] = true
			r.Contents[i] = []byte(rest)
		case kind == "socket" && rest == "inet":
			v, err = res.Socket()
		case kind == "sockaddr":
			var ap netip.AddrPort
			if ap, err = Sockaddr(rest); err == nil {
				v, err = res.Buffer(16, SockaddrIn(ap))
				r.Buffer[i] = true
				r.Contents[i] = SockaddrIn(ap)
			}
		case kind == "deref":
			r.Derived[i] = true
			derefs = append(derefs, i)
		default:
			err = fmt.Errorf("unknown kind %q (want a number, fd:PATH, buf:N, str:TEXT, socket:inet, sockaddr:IP:PORT, deref:N or any)", kind)
		}
		if err != nil {
			return Resolved{}, fmt.Errorf("argument %d (%s = %q): %w", i+1, a.Name, a.Value, err)
		}
		r.Values[i] = v
	}
	for _, i := range derefs {
		n, err := strconv.Atoi(strings.TrimPrefix(args[i].Value, "deref:"))
		if err != nil || n < 1 || n > len(args) || n == i+1 || r.Derived[n-1] {
			return Resolved{}, fmt.Errorf("argument %d (%s = %q): deref of no passed argument", i+1, args[i].Name, args[i].Value)
		}
		b, err := res.Peek(r.Values[n-1], 8)
		if err != nil {
			return Resolved{}, fmt.Errorf("argument %d (%s): %w", i+1, args[i].Name, err)
		}
		r.Values[i] = nativeEndian.Uint64(b)
	}
	return r, nil
}

// SockaddrIn lays out a struct sockaddr_in: family in host order, port
// and address in network order, zero padding.
func SockaddrIn(ap netip.AddrPort) []byte {
	b := make([]byte, 16)
	nativeEndian.PutUint16(b[0:], afInet)
	b[2], b[3] = byte(ap.Port()>>8), byte(ap.Port())
	a4 := ap.Addr().As4()
	copy(b[4:8], a4[:])
	return b
}

// SockaddrHead is what deref of a sockaddr_in gives: its first 8 bytes
// read as one host-order word.
func SockaddrHead(ap netip.AddrPort) uint64 { return nativeEndian.Uint64(SockaddrIn(ap)) }

const afInet = 2
