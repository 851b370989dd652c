package agent

import (
	"bytes"
	"errors"
	"io"
	"strings"
)

// bpfEntrySymbols returns the names in kallsyms text (r) that start with
// "__" and end in "_sys_bpf": a kernel with the syscall wrapper has its
// arch's (__x64_sys_bpf, …). The kernel formats every symbol it has, some
// hundred thousand lines, as they are read; reading it in large pieces and
// looking only at the lines that end in "_sys_bpf" keeps the guest's side
// of that cheap under emulation.
func bpfEntrySymbols(r io.Reader) ([]string, error) {
	const suffix = "_sys_bpf"
	buf := make([]byte, 1<<20)
	var syms []string
	keep := 0 // bytes of an unfinished line at buf's start
	for {
		n, err := io.ReadAtLeast(r, buf[keep:], 1)
		end := keep + n
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = nil
			if n == 0 {
				// The last line, without a newline.
				syms = appendEntry(syms, buf[:end], suffix)
				return syms, nil
			}
		}
		if err != nil {
			return syms, err
		}
		data := buf[:end]
		last := bytes.LastIndexByte(data, '\n')
		if last < 0 {
			if end == len(buf) {
				// A line longer than the buffer is not a symbol's.
				keep = 0
				continue
			}
			keep = end
			continue
		}
		for i := 0; ; {
			j := bytes.Index(data[i:last+1], []byte(suffix+"\n"))
			if j < 0 {
				break
			}
			lineEnd := i + j + len(suffix)
			start := bytes.LastIndexByte(data[:lineEnd], '\n') + 1
			syms = appendEntry(syms, data[start:lineEnd], suffix)
			i = lineEnd + 1
		}
		keep = copy(buf, data[last+1:])
	}
}

// appendEntry adds line's symbol name (its last field) when it is an
// entry point of bpf(2).
func appendEntry(syms []string, line []byte, suffix string) []string {
	name := string(line[bytes.LastIndexAny(line, " \t")+1:])
	if strings.HasPrefix(name, "__") && strings.HasSuffix(name, suffix) {
		syms = append(syms, name)
	}
	return syms
}
