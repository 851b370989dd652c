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
	// (__x64_sys_bpf, …). Empty, never nil, once kallsyms is read: nil
	// says it was not.
	BPFEntries []string
	// Syscalls are the names that start with "sys_" (the entry points of
	// a kernel without the wrapper, or ppc64le's) or with "__" and hold
	// "_sys_" (__x64_sys_write, __ia32_compat_sys_ia32_clone), the
	// kernel's own (not modules').
	Syscalls map[string]bool
	// Aliases are the names of Syscalls by address, where an address has
	// more than one (sys_write and __se_sys_write are one function on a
	// kernel without the wrapper).
	Aliases map[string][]string
}

// readKallsyms reads kallsyms text from r. The kernel formats every
// symbol it has, some hundred thousand lines, as they are read; reading
// it in large pieces and looking only at the lines that hold what is
// wanted keeps the guest's side of that cheap under emulation.
func readKallsyms(r io.Reader) (kallsyms, error) {
	k := kallsyms{BPFEntries: []string{}, Syscalls: map[string]bool{}, Aliases: map[string][]string{}}
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
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("sys_"))
		if j < 0 {
			return
		}
		j += i
		end := j + bytes.IndexByte(data[j:], '\n')
		if end < j {
			return
		}
		i = end + 1
		line := data[bytes.LastIndexByte(data[:j], '\n')+1 : end]
		if bytes.IndexByte(line, '\t') >= 0 {
			continue // a module's
		}
		name := string(line[bytes.LastIndexByte(line, ' ')+1:])
		if strings.HasPrefix(name, "__") && strings.HasSuffix(name, "_sys_bpf") {
			k.BPFEntries = append(k.BPFEntries, name)
		}
		if isSyscallEntry(name) {
			k.Syscalls[name] = true
			if addr, _, ok := bytes.Cut(line, []byte(" ")); ok {
				k.Aliases[string(addr)] = append(k.Aliases[string(addr)], name)
			}
		}
	}
}

// isSyscallEntry reports whether name is one kallsyms.Syscalls keeps.
func isSyscallEntry(name string) bool {
	return strings.HasPrefix(name, "sys_") || strings.HasPrefix(name, "__") && strings.Contains(name, "_sys_")
}
