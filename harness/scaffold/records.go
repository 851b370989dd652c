package scaffold

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ksystest/ksystest/harness/matrix"
)

// harmlessCalls are arguments, as ksystest passes them, for syscalls that
// tools of this kind trace and ksystest's own catalogue has no plain case
// for: each call fails after entry without an effect, and every argument
// differs from the others, so a swap shows. The names are left to the
// kernel's.
var harmlessCalls = map[string][]string{
	// AT_FDCWD, a path that does not exist (ENOENT), O_CLOEXEC (0x80000 on
	// every arch of the default matrix), a mode the call ignores.
	"openat": {"-100", "str:/tmp/ksystest-init/no/such/file", "0x80000", "0x1a0"},
	// Loopback is down for cases: ENETUNREACH.
	"connect": {"socket:inet", "sockaddr:127.0.0.1:9", "16"},
	// A socket that never connected: EPIPE; MSG_NOSIGNAL keeps SIGPIPE away.
	"sendto": {"socket:inet", "buf:13", "13", "0x4000", "sockaddr:127.0.0.1:9", "16"},
}

// caseArgs are the arguments init passes to sc, and where they come from.
func caseArgs(builtin *matrix.Catalogue, sc string) ([]matrix.ArgDef, string, bool) {
	if vals, ok := harmlessCalls[sc]; ok {
		args := make([]matrix.ArgDef, len(vals))
		for i, v := range vals {
			args[i].Value = matrix.ArgValue(v)
		}
		return args, "Values ksystest init passes to " + sc + ", the names the kernel's", true
	}
	def, ok := safeCase(builtin, sc)
	if !ok {
		return nil, "", false
	}
	return def.Args, "Values from ksystest's own " + def.Name + " case", true
}

// recordSet is a capture set read from the records a program submits.
type recordSet struct {
	name, program string
	// more are programs attached with it: the exit program that submits
	// the record its entry program began.
	more   []string
	rec    Record
	args   []FieldRead // by argument, empty where no field holds it
	choose map[string]uint64
}

// recordSets are the capture sets of a syscall's programs' records, each
// with n arguments.
func recordSets(c Collection, progs []Program, n int) []recordSet {
	var out []recordSet
	structs := map[string]int{}
	for _, p := range progs {
		for _, r := range p.Records {
			structs[r.Struct]++
		}
	}
	for _, p := range progs {
		for _, r := range p.Records {
			s := recordSet{name: r.Struct, program: p.Name, rec: r, args: make([]FieldRead, n)}
			if structs[r.Struct] > 1 || r.Struct == "" {
				s.name = strings.Trim(p.Name+"-"+r.Struct, "-")
			}
			if p.Exit {
				for _, q := range progs {
					if !q.Exit {
						s.program, s.more = q.Name, []string{p.Name}
						break
					}
				}
			}
			for _, f := range r.Fields {
				if f.Arg >= 1 && f.Arg <= n && s.args[f.Arg-1].Field == "" {
					s.args[f.Arg-1] = f
				}
			}
			if sharesMap(c, p, r.Map) {
				s.choose = r.Consts
			}
			out = append(out, s)
		}
	}
	return out
}

// sharesMap reports whether another program of c, not p's entry or exit,
// submits records to map m.
func sharesMap(c Collection, p Program, m string) bool {
	for _, q := range c.Programs {
		if q.Name == p.Name || q.Syscall == p.Syscall && q.Exit != p.Exit {
			continue
		}
		for _, r := range q.Records {
			if r.Map == m {
				return true
			}
		}
	}
	return false
}

func writeRecordSet(w func(string, ...any), c Collection, sc string, s recordSet) {
	w("      # inferred: %s\n", summary(s.rec, sc))
	w("      - name: %s\n", s.name)
	w("        program: %s\n", s.program)
	if len(s.more) > 0 {
		w("        programs: [%s]\n", strings.Join(s.more, ", "))
	}
	w("        events: %s\n", s.rec.Map)
	w("        record: %s\n", s.rec.Struct)
	if s.rec.Thread != "" {
		w("        %s: %s    # inferred: %s\n", s.rec.ThreadKind, s.rec.Thread, where(c, s.rec.ThreadLine))
	}
	if len(s.choose) > 0 {
		var parts []string
		for _, f := range sortedFields(s.choose) {
			parts = append(parts, fmt.Sprintf("%s: %d", f, s.choose[f]))
		}
		w("        # the records of %s in %s, which other programs write to too\n", sc, s.rec.Map)
		w("        select: {%s}\n", strings.Join(parts, ", "))
	}
	w("        args:\n")
	for _, f := range s.args {
		if f.Field == "" {
			w("          - {expect: ignore}    # no field of the record holds it\n")
			continue
		}
		what := ""
		if f.Content {
			what = ", what it points to"
		}
		w("          - {field: %s}    # inferred: %s%s\n", f.Field, where(c, f.Line), what)
	}
}

// summary says what init found of a record: how many of its fields hold
// the call's arguments, and which holds the thread or process.
func summary(r Record, sc string) string {
	var names []string
	for _, f := range r.Fields {
		names = append(names, f.Field)
	}
	of := ""
	if r.StructFields != nil {
		of = fmt.Sprintf(" of its %d", len(r.StructFields))
	}
	s := fmt.Sprintf("struct %s in %s: %d%s fields hold %s's arguments", r.Struct, r.Map, len(r.Fields), of, sc)
	if len(names) > 0 {
		s += " (" + strings.Join(names, ", ") + ")"
	}
	switch r.ThreadKind {
	case "tid":
		s += ", " + r.Thread + " the thread"
	case "pid":
		s += ", " + r.Thread + " the process"
	default:
		s += "; none the thread or process: records are tied to calls by their order"
	}
	if r.StructFields == nil {
		s += " (its definition was not found)"
	}
	return s
}

// Findings are, for each record init read, what it found of it: one line
// per collection, syscall and record.
func Findings(p *Project) []string {
	var out []string
	for _, c := range p.Collections {
		for _, sc := range syscallsOf(c) {
			for _, pr := range programsFor(c, sc) {
				for _, r := range pr.Records {
					out = append(out, fmt.Sprintf("%s-%s: %s", c.Name, sc, summary(r, sc)))
				}
			}
		}
	}
	return out
}

// yamlValue writes an argument's value: a number as it is, anything else
// quoted.
func yamlValue(v matrix.ArgValue) string {
	if _, ok := parseNumber(string(v)); ok {
		return string(v)
	}
	return strconv.Quote(string(v))
}

func sortedFields(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
