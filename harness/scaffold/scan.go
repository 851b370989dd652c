// Package scaffold finds a project's syscall probes (libbpf-style
// *.bpf.c sources, bpf2go's per-arch objects) and writes a starter
// ksystest config for them: what ksystest init does.
//
// It reads C the way a reader skims it, not the way a compiler does: the
// config it writes is a start, every inferred line says where it came
// from, and whatever it cannot tell is left as a comment to finish.
package scaffold

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Project is what a scan found.
type Project struct {
	Dir         string
	Collections []Collection
}

// Collection is one BPF object: a source, or bpf2go objects (with their
// source when a go:generate line names it).
type Collection struct {
	Name string
	// Source is relative to the project directory; empty for objects
	// whose source was not found.
	Source string
	// Includes are -I directories from a go:generate line.
	Includes []string
	// Objects maps ksystest arch to object path (relative).
	Objects  map[string]string
	Programs []Program
	// Globals are writable globals (.bss, .data) by name; Constants are
	// const volatile ones (.rodata).
	Globals   []string
	Constants []string
	// VmlinuxH is set when the source includes vmlinux.h and no such file
	// is beside it: ksystest must generate one per target.
	VmlinuxH bool
}

// Program is a BPF program that probes a syscall.
type Program struct {
	Name    string
	Section string
	Syscall string
	// Exit is a program run as the syscall returns (kretsyscall/NAME):
	// it completes what its entry program began.
	Exit bool
	// Line is where its SEC() is in the source (0 for objects).
	Line int
	// Reads are the globals it stores an argument in, by set.
	Reads []Read
	// Records are what it writes to ring buffers and perf event arrays.
	Records []Record
}

// Read is one global a program stores argument Arg (1-based) in. Set
// groups the readings a program takes one way (its BPF_KSYSCALL
// parameters, PT_REGS_PARMn_SYSCALL, PT_REGS_PARMn_CORE_SYSCALL).
type Read struct {
	Global string
	Arg    int
	Set    string
	Line   int
}

// Limits on what a scan reads: a project's tree is untrusted input too.
const (
	maxFiles      = 10000
	maxSourceSize = 4 << 20
	maxObjectSize = 64 << 20
)

var skipDirs = map[string]bool{".git": true, "vendor": true, "node_modules": true, ".cache": true, "ksystest-out": true}

// Scan walks dir for *.bpf.c sources, bpf2go objects and the go:generate
// lines that made them.
func Scan(dir string) (*Project, error) {
	p := &Project{Dir: dir}
	var sources, objects, gofiles []string
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if n++; n > maxFiles {
			return fmt.Errorf("more than %d files under %s: point ksystest init at your probes' directory", maxFiles, dir)
		}
		rel, _ := filepath.Rel(dir, path)
		switch name := d.Name(); {
		case strings.HasSuffix(name, ".bpf.c"):
			sources = append(sources, rel)
		case bpf2goObject.MatchString(name):
			objects = append(objects, rel)
		case strings.HasSuffix(name, ".go"):
			gofiles = append(gofiles, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// bpf2go: objects grouped by ident, with the source a go:generate
	// line names.
	gens := map[string]generate{}
	for _, f := range gofiles {
		for _, g := range goGenerates(filepath.Join(dir, f)) {
			g.Source = filepath.Join(filepath.Dir(f), g.Source)
			for i, inc := range g.Includes {
				g.Includes[i] = filepath.Join(filepath.Dir(f), inc)
			}
			// bpf2go names the objects after the ident lowercased
			// (Sniff: sniff_x86_bpfel.o).
			gens[strings.ToLower(filepath.Join(filepath.Dir(f), g.Ident))] = g
		}
	}
	byIdent := map[string]*Collection{}
	var idents []string
	for _, o := range objects {
		m := bpf2goObject.FindStringSubmatch(filepath.Base(o))
		a, ok := bpf2goArches[m[2]+"_"+m[3]]
		if !ok {
			continue
		}
		key := filepath.Join(filepath.Dir(o), m[1])
		c := byIdent[key]
		if c == nil {
			c = &Collection{Name: m[1], Objects: map[string]string{}}
			byIdent[key] = c
			idents = append(idents, key)
		}
		c.Objects[a] = o
	}
	usedSource := map[string]bool{}
	sort.Strings(idents)
	for _, key := range idents {
		c := byIdent[key]
		if g, ok := gens[strings.ToLower(key)]; ok {
			if _, err := os.Stat(filepath.Join(dir, g.Source)); err == nil {
				c.Source, c.Includes = g.Source, g.Includes
				usedSource[g.Source] = true
			}
		}
		if c.Source == "" {
			// No go:generate line names it: the source beside the
			// objects that bears their name (sniff.bpf.c beside
			// sniff_x86_bpfel.o) is theirs, not a collection of its own.
			for _, src := range sources {
				if !usedSource[src] && filepath.Dir(src) == filepath.Dir(key) && strings.EqualFold(strings.TrimSuffix(filepath.Base(src), ".bpf.c"), c.Name) {
					c.Source = src
					usedSource[src] = true
					break
				}
			}
		}
		if err := scanObjects(dir, c); err != nil {
			return nil, err
		}
		if c.Source != "" {
			if err := scanSource(dir, c, true); err != nil {
				return nil, err
			}
		}
		p.Collections = append(p.Collections, *c)
	}
	for _, s := range sources {
		if usedSource[s] {
			continue
		}
		c := Collection{Name: strings.TrimSuffix(filepath.Base(s), ".bpf.c"), Source: s}
		if err := scanSource(dir, &c, false); err != nil {
			return nil, err
		}
		p.Collections = append(p.Collections, c)
	}
	uniqueNames(p.Collections)
	return p, nil
}

// uniqueNames makes collection names unique and plain.
func uniqueNames(cs []Collection) {
	seen := map[string]int{}
	for i := range cs {
		name := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
				return r
			}
			return '-'
		}, cs[i].Name)
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, seen[name])
		}
		cs[i].Name = name
	}
}

// bpf2go names its objects IDENT_ARCH_bpfel.o / IDENT_ARCH_bpfeb.o.
var bpf2goObject = regexp.MustCompile(`^(\w+?)_(x86|arm64|arm|s390|mips|powerpc|riscv|loongarch)_(bpfel|bpfeb)\.o$`)

// bpf2goArches maps bpf2go's Linux arch and endianness to a ksystest
// arch. x86's object is built for x86_64's registers, so it serves
// x86_64 only.
var bpf2goArches = map[string]string{
	"x86_bpfel":     "x86_64",
	"arm64_bpfel":   "arm64",
	"s390_bpfeb":    "s390x",
	"arm_bpfel":     "arm",
	"mips_bpfel":    "mips64el",
	"powerpc_bpfel": "ppc64le",
	"riscv_bpfel":   "riscv64",
}

type generate struct {
	Ident, Source string
	Includes      []string
}

var goGenerateLine = regexp.MustCompile(`^//go:generate\s+(.*\bbpf2go\S*)\s+(.*)$`)

// bpf2go flags that take a value.
var bpf2goValueFlags = map[string]bool{"cc": true, "strip": true, "cflags": true, "target": true, "type": true,
	"output-dir": true, "output-stem": true, "go-package": true, "output-suffix": true, "tags": true, "makebase": true}

// goGenerates reads a Go file's go:generate lines that run bpf2go: the
// ident, the source and its -I directories.
func goGenerates(file string) []generate {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []generate
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := goGenerateLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		var pos []string
		var g generate
		words := strings.Fields(m[2])
		for i := 0; i < len(words); i++ {
			w := words[i]
			if w == "--" {
				for _, cf := range words[i+1:] {
					if inc, ok := strings.CutPrefix(cf, "-I"); ok && inc != "" {
						g.Includes = append(g.Includes, inc)
					}
				}
				break
			}
			if strings.HasPrefix(w, "-") {
				name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
				if bpf2goValueFlags[name] && !hasValue {
					i++
				}
				continue
			}
			pos = append(pos, w)
		}
		if len(pos) >= 2 {
			g.Ident, g.Source = pos[0], pos[1]
			out = append(out, g)
		}
	}
	return out
}

// scanObjects reads programs and globals from one of c's objects (they
// are one source compiled per arch).
func scanObjects(dir string, c *Collection) error {
	arches := make([]string, 0, len(c.Objects))
	for a := range c.Objects {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	path := filepath.Join(dir, c.Objects[arches[0]])
	if st, err := os.Stat(path); err != nil {
		return err
	} else if st.Size() > maxObjectSize {
		return fmt.Errorf("%s: larger than %d MiB: not a BPF object", path, maxObjectSize>>20)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, s := range syms {
		if int(s.Section) <= 0 || int(s.Section) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[s.Section].Name
		switch {
		case elf.ST_TYPE(s.Info) == elf.STT_FUNC && elf.ST_BIND(s.Info) == elf.STB_GLOBAL:
			if sc := syscallOf(sec); sc != "" {
				c.Programs = append(c.Programs, Program{Name: s.Name, Section: sec, Syscall: sc})
			} else if sc := exitSyscallOf(sec); sc != "" {
				c.Programs = append(c.Programs, Program{Name: s.Name, Section: sec, Syscall: sc, Exit: true})
			}
		case elf.ST_TYPE(s.Info) != elf.STT_OBJECT:
		case sec == ".bss" || sec == ".data":
			c.Globals = append(c.Globals, s.Name)
		case sec == ".rodata":
			c.Constants = append(c.Constants, s.Name)
		}
	}
	return nil
}

// syscallOf is the syscall a program's section attaches to, or "".
func syscallOf(sec string) string {
	if name, ok := strings.CutPrefix(sec, "ksyscall/"); ok {
		return name
	}
	target, ok := strings.CutPrefix(sec, "kprobe/")
	if !ok || strings.Contains(target, "compat") || strings.Contains(target, "ia32") {
		return "" // 32-bit entry points: ksyscall cases call the native one
	}
	// __x64_sys_NAME, __arm64_sys_NAME, __se_sys_NAME, sys_NAME.
	if i := strings.LastIndex(target, "sys_"); i == 0 || i > 2 && strings.HasPrefix(target, "__") && target[i-1] == '_' {
		return target[i+len("sys_"):]
	}
	return ""
}

// exitSyscallOf is the syscall a program's section attaches to as it
// returns, or "".
func exitSyscallOf(sec string) string {
	if name, ok := strings.CutPrefix(sec, "kretsyscall/"); ok {
		return name
	}
	if target, ok := strings.CutPrefix(sec, "kretprobe/"); ok {
		return syscallOf("kprobe/" + target)
	}
	return ""
}

var (
	secCall    = regexp.MustCompile(`\bSEC\(\s*((?:"[^"]*"\s*|\w+\s*)+)\)`)
	progHeader = regexp.MustCompile(`^\s*(?:static\s+)?(?:__always_inline\s+)?int\s+(?:(BPF_\w+)\(\s*(\w+)\s*([^)]*)\)|(\w+)\s*\(([^)]*)\))`)
	globalDecl = regexp.MustCompile(`^\s*(?:static\s+)?(const\s+volatile\s+|volatile\s+const\s+)?(?:volatile\s+)?(?:(?:unsigned|signed|long|int|short|char|_Bool|bool|__[us]\d+|[us]\d+|u?int\d+_t|pid_t|size_t|struct\s+\w+|\w+_t)\s+\**)+\s*(\**\s*\w+\s*(?:\[[^\]]*\])?\s*(?:=[^;,]*)?(?:,\s*\**\s*\w+\s*(?:\[[^\]]*\])?\s*(?:=[^;,]*)?)*)\s*;`)
	includeVml = regexp.MustCompile(`^\s*#\s*include\s+["<]vmlinux\.h[">]`)
)

// scanSource reads a source's programs, globals and what each program
// stores of its arguments: globals, and the records it writes to ring
// buffers and perf event arrays. With known set (objects scanned first),
// only what the programs store is added.
func scanSource(dir string, c *Collection, known bool) error {
	path := filepath.Join(dir, c.Source)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) > maxSourceSize {
		return fmt.Errorf("%s: larger than %d MiB", path, maxSourceSize>>20)
	}
	lines := strings.Split(stripComments(string(data)), "\n")
	for _, l := range lines {
		if includeVml.MatchString(l) {
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), "vmlinux.h")); err != nil {
				c.VmlinuxH = !inIncludes(dir, c.Includes)
			}
		}
	}
	src := newCSource()
	lines = src.read(dir, path, c.Includes, lines, 0, map[string]bool{path: true})

	// Globals: declarations at brace depth 0.
	depth := 0
	globals := map[string]bool{}
	for _, l := range lines {
		if depth == 0 && !known && !strings.Contains(l, "SEC(") && !strings.Contains(l, "extern") {
			if m := globalDecl.FindStringSubmatch(l); m != nil {
				for _, name := range declaredNames(m[2]) {
					if m[1] != "" {
						c.Constants = append(c.Constants, name)
					} else {
						c.Globals = append(c.Globals, name)
					}
				}
			}
		}
		depth += strings.Count(l, "{") - strings.Count(l, "}")
		if depth < 0 {
			depth = 0
		}
	}
	for _, g := range c.Globals {
		globals[g] = true
	}

	// Programs: SEC("...") then a function header, then its body.
	type found struct {
		prog   Program
		body   []string
		first  int
		params []string
	}
	var progs []found
	for i := 0; i < len(lines); i++ {
		m := secCall.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		sec := joinCStrings(m[1])
		sc, exit := syscallOf(sec), false
		if sc == "" {
			sc, exit = exitSyscallOf(sec), true
		}
		if sc == "" {
			continue
		}
		// The header: the rest of this line or the next few.
		j := i
		header := lines[i][strings.Index(lines[i], m[0])+len(m[0]):]
		for strings.Count(header, "(") > strings.Count(header, ")") || strings.TrimSpace(header) == "" {
			if j++; j >= len(lines) || j > i+8 {
				break
			}
			header += " " + lines[j]
		}
		h := progHeader.FindStringSubmatch(strings.ReplaceAll(header, "\t", " "))
		if h == nil {
			continue
		}
		name, params, macro := h[2], h[3], h[1]
		if macro == "" {
			name, params = h[4], ""
		}
		var paramNames []string
		if macro == "BPF_KSYSCALL" || macro == "BPF_KPROBE_SYSCALL" {
			paramNames = cParamNames(params)
		}
		body, start := functionBody(lines, j)
		progs = append(progs, found{Program{Name: name, Section: sec, Syscall: sc, Exit: exit, Line: i + 1}, body, start, paramNames})
		i = j
	}
	// Twice: an exit program reads what its entry program left in a map,
	// whichever comes first in the source.
	fl := &flow{funcs: src.funcs, globals: globals, consts: src.consts, mapValues: map[string]*object{}}
	for _, f := range progs {
		fl.program(f.body, f.first, f.params)
	}
	for _, f := range progs {
		f.prog.Reads, f.prog.Records = fl.program(f.body, f.first, f.params)
		for k := range f.prog.Records {
			f.prog.Records[k].StructFields = src.structs[f.prog.Records[k].Struct]
		}
		mergeProgram(c, f.prog, known)
	}
	return nil
}

// declaredNames are the names a global declaration declares (a, b[2] = {0}).
func declaredNames(decl string) []string {
	var out []string
	for _, d := range splitArgs(decl) {
		d, _, _ = strings.Cut(d, "=")
		if m := memberName.FindStringSubmatch(strings.TrimSpace(strings.TrimLeft(d, "* "))); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func inIncludes(dir string, includes []string) bool {
	for _, inc := range includes {
		if _, err := os.Stat(filepath.Join(dir, inc, "vmlinux.h")); err == nil {
			return true
		}
	}
	return false
}

// mergeProgram adds prog to c, or its readings to the program of that
// name that c's objects already have.
func mergeProgram(c *Collection, prog Program, known bool) {
	for i := range c.Programs {
		if c.Programs[i].Name == prog.Name {
			c.Programs[i].Reads, c.Programs[i].Records, c.Programs[i].Line = prog.Reads, prog.Records, prog.Line
			return
		}
	}
	if !known {
		c.Programs = append(c.Programs, prog)
	}
}

// functionBody returns the lines of the brace block starting at or after
// line from, and the 1-based number of its first line.
func functionBody(lines []string, from int) ([]string, int) {
	depth, start := 0, -1
	for k := from; k < len(lines); k++ {
		if start < 0 {
			if !strings.Contains(lines[k], "{") {
				continue
			}
			start = k
		}
		depth += strings.Count(lines[k], "{") - strings.Count(lines[k], "}")
		if depth <= 0 {
			return lines[start : k+1], start + 1
		}
	}
	if start < 0 {
		return nil, 0
	}
	return lines[start:], start + 1
}

// cParamNames are the names in a C parameter list ("int fd, long *off").
func cParamNames(params string) []string {
	var out []string
	for _, p := range strings.Split(strings.TrimPrefix(strings.TrimSpace(params), ","), ",") {
		f := strings.Fields(strings.NewReplacer("*", " ", "[", " ", "]", " ").Replace(p))
		if len(f) > 0 {
			out = append(out, f[len(f)-1])
		}
	}
	return out
}

// joinCStrings joins adjacent C string literals, dropping macro names
// (SYS_PREFIX "sys_prctl" → "sys_prctl").
func joinCStrings(s string) string {
	var b strings.Builder
	for _, part := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		b.WriteString(part[1])
	}
	return b.String()
}

// stripComments blanks C comments, keeping line numbers.
func stripComments(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			for i++; i < len(b) && b[i] != '"' && b[i] != '\n'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			b[i], b[i+1] = ' ', ' '
			for i += 2; i < len(b) && !(b[i] == '*' && i+1 < len(b) && b[i+1] == '/'); i++ {
				if b[i] != '\n' {
					b[i] = ' '
				}
			}
			if i+1 < len(b) {
				b[i], b[i+1] = ' ', ' '
				i++
			}
		}
	}
	return string(b)
}
