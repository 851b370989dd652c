package expect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
)

// contentKind is what a case's argument points to, by its value's form:
// a string (str:), a socket address (sockaddr:), N bytes (buf:N); "" for
// an argument that points to nothing ksystest made.
func contentKind(value matrix.ArgValue) string {
	kind, _, _ := strings.Cut(string(value), ":")
	switch kind {
	case "str":
		return proto.ContentString
	case "sockaddr":
		return proto.ContentSockaddr
	case "buf":
		return proto.ContentBytes
	}
	return ""
}

// passedContent is what argument i of the case pointed to: for str: and
// sockaddr: what the case says (the agent's report must agree), for buf:
// the agent's report of its buffer.
func passedContent(def matrix.Planned, archName string, got proto.CaseResult, i int) ([]byte, string) {
	v := string(def.Args[i].Value)
	var reported []byte
	if i < len(got.Contents) {
		reported = got.Contents[i]
	}
	kind, rest, _ := strings.Cut(v, ":")
	switch kind {
	case "str":
		return []byte(rest), ""
	case "sockaddr":
		ap, err := netip.ParseAddrPort(rest)
		if err != nil || !ap.Addr().Is4() {
			return nil, fmt.Sprintf("%q is no IPv4 socket address", rest)
		}
		return sockaddrIn(ap, byteOrder(archName)), ""
	case "buf":
		if reported == nil {
			return nil, "the agent reported no content for the buffer it passed"
		}
		return reported, ""
	}
	return nil, fmt.Sprintf("the argument is passed as %q, not as a pointer to content (str:, sockaddr:, buf:)", v)
}

// byteOrder is the guest's byte order on arch archName.
func byteOrder(archName string) binary.ByteOrder {
	if a, err := arch.Lookup(archName); err == nil && a.BPF.Clang == "bpfeb" {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// sockaddrIn lays out a struct sockaddr_in as the agent passes it
// (trigger.SockaddrIn): family in the guest's order, port and address in
// network order.
func sockaddrIn(ap netip.AddrPort, bo binary.ByteOrder) []byte {
	b := make([]byte, 16)
	bo.PutUint16(b, 2) // AF_INET
	binary.BigEndian.PutUint16(b[2:], ap.Port())
	a4 := ap.Addr().As4()
	copy(b[4:8], a4[:])
	return b
}

// contentVerdict is how a program's copy of what an argument pointed to
// compares with what was passed.
type contentVerdict struct {
	ok, truncated bool
	note          string
	// passed and captured render both sides for the report.
	passed, captured string
}

// compareContent compares got, the bytes of a content field f (a string
// copied with bpf_probe_read_user_str, a socket address, a buffer), with
// passed, what the argument pointed to. A string is its bytes before the
// first NUL; a socket address or a buffer its first len(passed) bytes.
// A copy that holds less than was passed and equals it as far as it goes
// is truncated: said as such, not as a mismatch.
func compareContent(kind string, passed []byte, f proto.Field, got []byte, bo binary.ByteOrder) contentVerdict {
	v := contentVerdict{passed: render(kind, passed, bo)}
	switch kind {
	case proto.ContentString:
		s, terminated := got, false
		if i := bytes.IndexByte(got, 0); i >= 0 {
			s, terminated = got[:i], true
		}
		v.captured = render(kind, s, bo)
		switch {
		case bytes.Equal(s, passed) && terminated:
			v.ok = true
		case bytes.Equal(s, passed):
			v.ok = true
			v.note = fmt.Sprintf("the string, with no NUL in the field's %d bytes", len(got))
		case len(s) > 0 && len(s) < len(passed) && bytes.HasPrefix(passed, s) && len(s)+1 >= f.Size:
			v.truncated = true
			v.note = fmt.Sprintf("truncated: the field (%s) holds the first %d of the string's %d bytes", f.Type, len(s), len(passed))
		case len(s) > 0 && len(s) < len(passed) && bytes.HasPrefix(passed, s):
			v.truncated = true
			v.note = fmt.Sprintf("truncated: the copy stopped after %d of the string's %d bytes (the field, %s, has room for more)", len(s), len(passed), f.Type)
		default:
			v.note = fmt.Sprintf("the string differs: captured %s, passed %s", v.captured, v.passed)
		}
	default:
		n := min(len(got), len(passed))
		v.captured = render(kind, got[:min(len(got), max(len(passed), 16))], bo)
		switch {
		case len(got) >= len(passed) && bytes.Equal(got[:len(passed)], passed):
			v.ok = true
			v.captured = v.passed
		case len(got) < len(passed) && bytes.Equal(got, passed[:n]):
			v.truncated = true
			v.note = fmt.Sprintf("truncated: the field (%s) holds the first %d of the %d bytes passed", f.Type, len(got), len(passed))
		default:
			at := 0
			for at < n && got[at] == passed[at] {
				at++
			}
			v.note = fmt.Sprintf("the %s differs from byte %d: captured %s, passed %s", kindWord(kind), at, v.captured, v.passed)
		}
	}
	return v
}

func kindWord(kind string) string {
	if kind == proto.ContentSockaddr {
		return "socket address"
	}
	return "buffer"
}

// render shows content for a report: a string quoted (at most 96 bytes),
// a socket address as family, address and port where it is AF_INET or
// AF_INET6, anything else (and the rest) in hex (at most 32 bytes).
func render(kind string, b []byte, bo binary.ByteOrder) string {
	switch kind {
	case proto.ContentString:
		if len(b) > 96 {
			return strconv.Quote(string(b[:96])) + fmt.Sprintf("... (%d bytes)", len(b))
		}
		return strconv.Quote(string(b))
	case proto.ContentSockaddr:
		if s, ok := sockaddrString(b, bo); ok {
			return s
		}
	}
	if len(b) > 32 {
		return fmt.Sprintf("%x... (%d bytes)", b[:32], len(b))
	}
	return fmt.Sprintf("%x", b)
}

// sockaddrString reads a struct sockaddr_in or sockaddr_in6 (family in
// the guest's order, port in network order).
func sockaddrString(b []byte, bo binary.ByteOrder) (string, bool) {
	if len(b) < 2 {
		return "", false
	}
	switch bo.Uint16(b) {
	case 2: // AF_INET
		if len(b) < 8 {
			return "", false
		}
		ip := netip.AddrFrom4([4]byte(b[4:8]))
		return "AF_INET " + netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[2:])).String(), true
	case 10: // AF_INET6
		if len(b) < 24 {
			return "", false
		}
		ip := netip.AddrFrom16([16]byte(b[8:24]))
		return "AF_INET6 " + netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[2:])).String(), true
	}
	return "", false
}

// judgeContent fills in arg, the reading of a content field or global f
// holding got, against what argument i of the case pointed to.
func judgeContent(arg *result.Arg, def matrix.Planned, archName string, got proto.CaseResult, i int, f proto.Field, b []byte) {
	arg.Captured, arg.OK, arg.Truncated = nil, false, false
	if arg.Expect == matrix.ExpectIgnore {
		arg.OK = true
		return
	}
	passed, why := passedContent(def, archName, got, i)
	if why != "" {
		arg.Note = fmt.Sprintf("the program copied %s (%s) here, but %s", f.Type, kindOfField(f), why)
		return
	}
	v := compareContent(contentKind(def.Args[i].Value), passed, f, b, byteOrder(archName))
	arg.PassedContent, arg.CapturedContent = v.passed, v.captured
	switch {
	case arg.Expect == matrix.ExpectDiffer && !v.ok:
		arg.OK, arg.Note = true, "differs from what was passed, as expected"
	case arg.Expect == matrix.ExpectDiffer:
		arg.Note = "equals what was passed, expected to differ"
	default:
		arg.OK, arg.Truncated, arg.Note = v.ok, v.truncated, v.note
	}
}

func kindOfField(f proto.Field) string {
	return fmt.Sprintf("%d bytes of content", f.Size)
}
