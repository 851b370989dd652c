package agent

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// kprobesList is where the kernel lists every kprobe it has registered,
// whoever made it (a perf event, tracefs, a BPF link): what a loader
// attached to, as the kernel says it, whatever name the loader was given.
const kprobesList = "/sys/kernel/debug/kprobes/list"

// readKprobes reads the kernel's kprobe list into "ADDRESS KIND
// SYMBOL+OFFSET" → how many kprobes are there ("ffffffff81234560  k
// __x64_sys_prctl+0x0  [FTRACE]": an address, k or r, the place, flags).
func readKprobes(r io.Reader) map[string]int {
	out := map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || (f[1] != "k" && f[1] != "r") {
			continue
		}
		out[f[0]+" "+f[1]+" "+f[2]]++
	}
	return out
}

// kprobe is a kprobe the kernel lists: its address and place.
type kprobe struct {
	addr, place string
}

// newKprobes is what after has that before has not.
func newKprobes(before, after map[string]int) []kprobe {
	var out []kprobe
	for key, n := range after {
		for range n - before[key] {
			f := strings.Fields(key)
			out = append(out, kprobe{addr: f[0], place: f[2]})
		}
	}
	return out
}

// name says where a kprobe is: its place, with "+0x0" left out and the
// function's other names where it has some ("sys_write=__se_sys_write":
// the kernel lists a place by the first name at the address, whichever
// the loader gave it). aliases are the kernel's syscall entry points'
// names by address (kallsyms' format: hex, zero-padded).
func (k kprobe) name(aliases map[string][]string) string {
	sym, off, _ := strings.Cut(k.place, "+")
	label := strings.TrimSuffix(k.place, "+0x0")
	o, err1 := strconv.ParseUint(strings.TrimPrefix(off, "0x"), 16, 64)
	a, err2 := strconv.ParseUint(k.addr, 16, 64)
	if err1 != nil || err2 != nil || a < o {
		return label
	}
	names := aliases[fmt.Sprintf("%0*x", len(k.addr), a-o)]
	others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == sym })
	if len(others) == 0 {
		return label
	}
	slices.Sort(others)
	return strings.Replace(label, sym, sym+"="+strings.Join(others, "="), 1)
}
