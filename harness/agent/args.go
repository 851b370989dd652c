package agent

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ksystest/ksystest/harness/proto"
)

// Resources provides what argument specs point at: open files and buffers.
// The real one opens files and allocates memory in the guest; tests fake it.
type Resources interface {
	OpenFD(path string) (uint64, error)
	Buffer(size int) (uint64, error)
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

// ResolveArgs turns argument specs into the values to pass.
func ResolveArgs(args []proto.Arg, res Resources) ([]uint64, error) {
	vals := make([]uint64, len(args))
	for i, a := range args {
		kind, rest, hasKind := strings.Cut(a.Value, ":")
		var (
			v   uint64
			err error
		)
		switch {
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
				v, err = res.Buffer(n)
			}
		default:
			err = fmt.Errorf("unknown kind %q (want a number, fd:PATH or buf:N)", kind)
		}
		if err != nil {
			return nil, fmt.Errorf("argument %d (%s = %q): %w", i+1, a.Name, a.Value, err)
		}
		vals[i] = v
	}
	return vals, nil
}
