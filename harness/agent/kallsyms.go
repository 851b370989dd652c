package agent

import (
	"bytes"
	"errors"
	"io"
	"strings"
)

// kallsyms is what the agent takes from /proc/kallsyms.
type kallsyms struct {
	// BPFEntries are the names that start with "__" and end in
	// "_sys_bpf": a kernel with the syscall wrapper has its arch's
	// (__x64_sys_bpf, …).
	BPFEntries []string
	// Plain are the names that start with "sys_": the syscall entry
	// points a kernel without the wrapper (or ppc64le's) has.
	Plain map[string]bool
}

// readKallsyms reads kallsyms text from r. The kernel formats every
// symbol it has, some hundred thousand lines, as they are read; reading
// it in large pieces and looking only at the lines that hold what is
// wanted keeps the guest's side of that cheap under emulation.
func readKallsyms(r io.Reader) (kallsyms, error) {
	k := kallsyms{Plain: map[string]bool{}}
	buf := make([]byte, 1<<20)
	keep := 0 // bytes of an unfinished line at buf's start
	for {
		n, err := io.ReadAtLeast(r, buf[keep:], 1)
		end := keep + n
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if n == 0 {
				// The last line, without a newline.
				k.lines(append(buf[:end:end], '\n'))
				return k, nil
			}
			err = nil
		}
		if err != nil {
			return k, err
		}
		data := buf[:end]
		last := bytes.LastIndexByte(data, '\n')
		switch {
		case last >= 0:
			k.lines(data[:last+1])
			keep = copy(buf, data[last+1:])
		case end == len(buf):
			keep = 0 // a line longer than the buffer is not a symbol's
		default:
			keep = end
		}
	}
}

// lines takes what is wanted from whole lines ("ADDRESS TYPE NAME\n", a
// module's with "\t[MODULE]" after the name).
func (k *kallsyms) lines(data []byte) {
	const bpf = "_sys_bpf\n"
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(bpf))
		if j < 0 {
			break
		}
		end := i + j + len(bpf) - 1
		name := string(data[bytes.LastIndexAny(data[:end], " \t\n")+1 : end])
		if strings.HasPrefix(name, "__") {
			k.BPFEntries = append(k.BPFEntries, name)
		}
		i = end + 1
	}
	const plain = " sys_"
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(plain))
		if j < 0 {
			break
		}
		start := i + j + 1
		end := start + bytes.IndexAny(data[start:], "\t\n")
		if end < start {
			break
		}
		if data[end] == '\n' { // a module's symbol is not an entry point
			k.Plain[string(data[start:end])] = true
		}
		i = end
	}
}
