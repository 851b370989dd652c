package agent

import (
	"bufio"
	"io"
	"strings"
)

// kprobesList is where the kernel lists every kprobe it has registered,
// whoever made it (a perf event, tracefs, a BPF link): what a loader
// attached to, as the kernel says it, whatever name the loader was given.
const kprobesList = "/sys/kernel/debug/kprobes/list"

// readKprobes reads the kernel's kprobe list into "SYMBOL+OFFSET" →
// how many kprobes are there ("ffffffff81234560  k  __x64_sys_prctl+0x0
// [FTRACE]": an address, k or r, the place, flags).
func readKprobes(r io.Reader) map[string]int {
	out := map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || (f[1] != "k" && f[1] != "r") {
			continue
		}
		out[f[1]+" "+f[2]]++
	}
	return out
}

// newKprobes is what after has that before has not, by place, without
// the kind ("__x64_sys_prctl+0x0").
func newKprobes(before, after map[string]int) []string {
	var out []string
	for place, n := range after {
		for range n - before[place] {
			_, sym, _ := strings.Cut(place, " ")
			out = append(out, sym)
		}
	}
	return out
}
