package scaffold

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ksystest/ksystest/harness/matrix"
)

// Render writes a commented starter config for p. Cases take their
// arguments from ksystest's own case for the syscall (builtin), whose
// values are safe to pass; a probe of any other syscall gets a case
// written as a comment, to finish by hand.
func Render(p *Project, builtin *matrix.Catalogue) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(`# ksystest config, written by ksystest init from what it found under
# this directory. Lines marked "inferred" are read from your sources:
# check them. Run: ksystest run --matrix ksystest.yaml
# Every key: https://github.com/ksystest/ksystest#the-config-file
apiVersion: ksystest/v1

# ksystest's default matrix: x86_64, arm64, s390x, 32-bit arm, mips64el,
# ppc64le, i386 and riscv64 kernels from Debian, with and without the
# syscall wrapper. List your own targets instead to choose.
targets: default
`)
	if len(p.Collections) == 0 {
		w(`
# No *.bpf.c sources or bpf2go objects (NAME_ARCH_bpfel.o) found: name
# yours under collections:, and your cases under cases:. Until then, this
# runs ksystest's own cases.
catalogues: [builtin]
`)
		return []byte(b.String())
	}

	w("\ncollections:\n")
	for _, c := range p.Collections {
		w("  - name: %s\n", c.Name)
		if c.Source != "" && len(c.Objects) == 0 {
			w("    source: %s\n", filepath.ToSlash(c.Source))
			if len(c.Includes) > 0 {
				w("    includes: [%s]\n", strings.Join(slashes(c.Includes), ", "))
			}
			if c.VmlinuxH {
				w("    # It includes vmlinux.h: ksystest dumps one from each target kernel's BTF.\n")
				w("    vmlinuxH: true\n")
			}
		}
		if len(c.Objects) > 0 {
			if c.Source != "" {
				w("    # bpf2go's objects, built from %s (commit them regenerated).\n", filepath.ToSlash(c.Source))
			}
			w("    objects:\n")
			for _, a := range sortedKeys(c.Objects) {
				w("      %s: %s\n", a, filepath.ToSlash(c.Objects[a]))
			}
		}
		if len(c.Constants) > 0 {
			w("    # const volatile globals, set before loading: a number, or ${pid} /\n")
			w("    # ${tid} of the thread making the cases' calls.\n")
			w("    constants:\n")
			for _, k := range c.Constants {
				if v := placeholder(k); v != "" {
					w("      %s: \"%s\"\n", k, v)
				} else {
					w("      # %s: 0\n", k)
				}
			}
		}
	}

	// Cases: one per syscall a collection probes.
	var todo []string
	w("\ncases:\n")
	cases := 0
	for _, c := range p.Collections {
		for _, sc := range syscallsOf(c) {
			progs := programsFor(c, sc)
			args, whence, ok := caseArgs(builtin, sc)
			if !ok {
				todo = append(todo, commentedCase(c, sc, progs))
				continue
			}
			sets := captureSets(progs, len(args))
			recs := recordSets(c, progs, len(args))
			if len(sets)+len(recs) == 0 {
				todo = append(todo, commentedCase(c, sc, progs))
				continue
			}
			cases++
			w("  - name: %s-%s\n", c.Name, sc)
			w("    collection: %s\n", c.Name)
			w("    syscall: %s\n", sc)
			if arches := objectArches(c); arches != "" {
				w("    arches: [%s]\n", arches)
			}
			w("    # %s: the call fails harmlessly after entry.\n", whence)
			w("    args:\n")
			for _, a := range args {
				if a.Name == "" {
					w("      - {value: %s}\n", yamlValue(a.Value))
					continue
				}
				w("      - {name: %s, value: %s}\n", a.Name, yamlValue(a.Value))
			}
			w("    captures:\n")
			for _, r := range recs {
				writeRecordSet(w, c, sc, r)
			}
			for _, s := range sets {
				w("      - name: %s\n", s.name)
				w("        program: %s\n", s.program)
				w("        args:\n")
				for _, r := range s.args {
					if r.Global == "" {
						w("          - {expect: ignore}    # not stored by %s\n", s.program)
						continue
					}
					w("          - {global: %s}    # inferred: %s\n", r.Global, where(c, r.Line))
				}
			}
		}
	}
	if cases == 0 {
		w("  []\n")
	}
	for _, t := range todo {
		b.WriteString(t)
	}
	return []byte(b.String())
}

// Cases returns how many cases Render writes for p, and how many it
// leaves as comments.
func Cases(p *Project, builtin *matrix.Catalogue) (written, commented int) {
	for _, c := range p.Collections {
		for _, sc := range syscallsOf(c) {
			args, _, ok := caseArgs(builtin, sc)
			progs := programsFor(c, sc)
			if ok && len(captureSets(progs, len(args)))+len(recordSets(c, progs, len(args))) > 0 {
				written++
			} else {
				commented++
			}
		}
	}
	return written, commented
}

type captureSet struct {
	name, program string
	args          []Read
}

// captureSets are a syscall's programs' readings, one set per program
// and way of reading, each with n arguments (empty where not stored).
func captureSets(progs []Program, n int) []captureSet {
	var out []captureSet
	for _, p := range progs {
		bySet := map[string][]Read{}
		var order []string
		for _, r := range p.Reads {
			if r.Arg > n {
				continue
			}
			if _, ok := bySet[r.Set]; !ok {
				order = append(order, r.Set)
				bySet[r.Set] = make([]Read, n)
			}
			if bySet[r.Set][r.Arg-1].Global == "" {
				bySet[r.Set][r.Arg-1] = r
			}
		}
		for _, s := range order {
			name := s
			if len(progs) > 1 || len(order) > 1 {
				name = p.Name + "-" + s
			}
			out = append(out, captureSet{name: name, program: p.Name, args: bySet[s]})
		}
	}
	return out
}

// commentedCase is a case to finish by hand, as a comment.
func commentedCase(c Collection, sc string, progs []Program) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	names := make([]string, 0, len(progs))
	for _, p := range progs {
		names = append(names, p.Name)
	}
	w("\n  # %s probes %s (%s). Give the arguments to pass (values the call\n", c.Name, sc, strings.Join(names, ", "))
	w("  # accepts harmlessly) and where each program stores what it read:\n")
	w("  # - name: %s-%s\n", c.Name, sc)
	w("  #   collection: %s\n", c.Name)
	w("  #   syscall: %s\n", sc)
	w("  #   args:\n")
	w("  #     - {name: arg1, value: 0x1001}\n")
	w("  #   captures:\n")
	for _, p := range progs {
		w("  #     - name: %s\n", p.Name)
		w("  #       program: %s\n", p.Name)
		w("  #       args:\n")
		w("  #         - {global: GLOBAL}   # or {map: NAME, key: ${tid}}, or emit: N (ksystest.h)\n")
	}
	if len(c.Globals) > 0 {
		w("  # Its globals: %s.\n", strings.Join(c.Globals, ", "))
	}
	return b.String()
}

// safeCase is ksystest's own case for syscall sc, when it is a plain
// raw call whose arguments every arch passes in order (not clone, whose
// order is the arch's).
func safeCase(builtin *matrix.Catalogue, sc string) (matrix.CaseDef, bool) {
	if builtin == nil {
		return matrix.CaseDef{}, false
	}
	for _, cd := range builtin.Cases {
		if cd.Syscall == sc && sc != "clone" && (cd.Via == "" || cd.Via == "raw") && !cd.Compat && len(cd.Order) == 0 && len(cd.Pack) == 0 && len(cd.Arches) == 0 {
			return cd, true
		}
	}
	return matrix.CaseDef{}, false
}

func syscallsOf(c Collection) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range c.Programs {
		if !seen[p.Syscall] {
			seen[p.Syscall] = true
			out = append(out, p.Syscall)
		}
	}
	return out
}

func programsFor(c Collection, sc string) []Program {
	var out []Program
	for _, p := range c.Programs {
		if p.Syscall == sc {
			out = append(out, p)
		}
	}
	return out
}

// objectArches restricts a bpf2go collection's cases to the arches it
// has objects for; "" for a source, which compiles for every arch.
func objectArches(c Collection) string {
	if len(c.Objects) == 0 {
		return ""
	}
	return strings.Join(sortedKeys(c.Objects), ", ")
}

// placeholder guesses a PID or TID filter from a constant's name.
func placeholder(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "tgid") || strings.Contains(n, "pid"):
		return "${pid}"
	case strings.Contains(n, "tid"):
		return "${tid}"
	}
	return ""
}

func where(c Collection, line int) string {
	return fmt.Sprintf("%s:%d", filepath.Base(c.Source), line)
}

func slashes(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = filepath.ToSlash(p)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
