package scaffold

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// cSource is what a source and the headers it includes from the project
// declare: the names it #defines, numbers (#defines, enumerators), struct
// fields and functions.
type cSource struct {
	defined map[string]bool
	consts  map[string]uint64
	structs map[string][]string
	funcs   map[string]cFunc
}

func newCSource() *cSource {
	return &cSource{defined: map[string]bool{}, consts: map[string]uint64{}, structs: map[string][]string{}, funcs: map[string]cFunc{}}
}

var (
	includeLocal = regexp.MustCompile(`^\s*#\s*include\s+"([^"]+)"`)
	directive    = regexp.MustCompile(`^\s*#\s*(\w+)\s*(.*)$`)
	defineNumber = regexp.MustCompile(`^(\w+)(?:\s+\(?\s*(-?(?:0[xX][0-9a-fA-F]+|\d+)[uUlL]*)\s*\)?)?\s*$`)
	structDef    = regexp.MustCompile(`\bstruct\s+(\w+)\s*\{([^{}]*)\}`)
	enumDef      = regexp.MustCompile(`\benum\s*\w*\s*\{([^{}]*)\}`)
	funcHead     = regexp.MustCompile(`^\s*(?:static\s+)?(?:(?:__always_inline|inline|__inline|__noinline)\s+)*(?:const\s+)?(?:(?:struct|union|enum|unsigned|signed|long)\s+)*\w+[\s\*]+(\w+)\s*\(`)
	memberName   = regexp.MustCompile(`([A-Za-z_]\w*)\s*(?:\[[^\]]*\])*\s*(?::\s*\d+)?\s*$`)
)

// include reads a header the source includes from the project (its own
// directory, then the collection's -I directories), headers first.
func (cs *cSource) include(dir, from string, incDirs []string, name string, depth int, seen map[string]bool) {
	if depth > 4 {
		return
	}
	for _, d := range append([]string{filepath.Dir(from)}, incDirs...) {
		path := filepath.Join(d, name)
		if !filepath.IsAbs(d) && d != filepath.Dir(from) {
			path = filepath.Join(dir, d, name)
		}
		if seen[path] {
			return
		}
		data, err := os.ReadFile(path)
		if err != nil || len(data) > maxSourceSize {
			continue
		}
		seen[path] = true
		cs.read(dir, path, incDirs, strings.Split(stripComments(string(data)), "\n"), depth+1, seen)
		return
	}
}

// read takes in a file's lines (comments stripped): its includes first,
// then its declarations, and returns the lines as the compiler sees them
// on every arch.
func (cs *cSource) read(dir, path string, incDirs []string, lines []string, depth int, seen map[string]bool) []string {
	lines = cs.preprocess(lines, func(name string) { cs.include(dir, path, incDirs, name, depth, seen) })
	text := strings.Join(lines, "\n")
	for _, m := range structDef.FindAllStringSubmatch(text, -1) {
		var fields []string
		for _, decl := range strings.Split(m[2], ";") {
			decl = strings.TrimSpace(decl)
			if decl == "" {
				continue
			}
			// int a, b[2]: each declarator is a field.
			parts := splitArgs(decl)
			for i, p := range parts {
				if i > 0 {
					p = "x " + p
				}
				if mm := memberName.FindStringSubmatch(p); mm != nil {
					fields = append(fields, mm[1])
				}
			}
		}
		cs.structs[m[1]] = fields
	}
	for _, m := range enumDef.FindAllStringSubmatch(text, -1) {
		next := uint64(0)
		for _, e := range strings.Split(m[1], ",") {
			name, val, hasVal := strings.Cut(strings.TrimSpace(e), "=")
			name = strings.TrimSpace(name)
			if !identOnly.MatchString(name) {
				continue
			}
			if hasVal {
				n, ok := parseNumber(val)
				if !ok {
					continue
				}
				next = n
			}
			cs.consts[name] = next
			next++
		}
	}
	cs.functions(lines)
	return lines
}

// preprocess blanks what the compiler would not see on every arch: the
// lines of a conditional block whose condition is false or depends on the
// target arch (bpf_target_*, __x86_64__ …), and every directive, keeping
// line numbers. #defines are taken as they come; local #includes are
// read where they stand.
func (cs *cSource) preprocess(lines []string, include func(string)) []string {
	type cond struct{ active, known, taken, parent bool }
	var stack []cond
	active := func() bool { return len(stack) == 0 || stack[len(stack)-1].active }
	out := make([]string, len(lines))
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		m := directive.FindStringSubmatch(l)
		if m == nil {
			if active() {
				out[i] = l
			}
			continue
		}
		// A directive and its continuation lines.
		arg := m[2]
		for strings.HasSuffix(strings.TrimSpace(lines[i]), `\`) && i+1 < len(lines) {
			i++
			arg = strings.TrimSuffix(strings.TrimSpace(arg), `\`) + " " + lines[i]
		}
		arg = strings.TrimSpace(arg)
		switch m[1] {
		case "ifdef", "ifndef", "if":
			val, known := cs.condition(m[1], arg)
			p := active()
			stack = append(stack, cond{active: p && known && val, known: known, taken: known && val, parent: p})
		case "elif":
			if n := len(stack); n > 0 {
				c := &stack[n-1]
				val, known := cs.condition("if", arg)
				c.known = c.known && known
				c.active = c.parent && c.known && !c.taken && val
				c.taken = c.taken || c.active
			}
		case "else":
			if n := len(stack); n > 0 {
				c := &stack[n-1]
				c.active = c.parent && c.known && !c.taken
				c.taken = true
			}
		case "endif":
			if n := len(stack); n > 0 {
				stack = stack[:n-1]
			}
		case "define":
			if active() {
				if d := defineNumber.FindStringSubmatch(arg); d != nil {
					if n, ok := parseNumber(d[2]); ok && d[2] != "" {
						cs.consts[d[1]] = n
					}
				}
				if f := strings.Fields(arg); len(f) > 0 {
					name, _, _ := strings.Cut(f[0], "(")
					cs.defined[name] = true
				}
			}
		case "undef":
			if active() {
				delete(cs.defined, arg)
			}
		case "include":
			// vmlinux.h is the kernel's types, not the program's.
			if inc := includeLocal.FindStringSubmatch(l); inc != nil && active() && include != nil && filepath.Base(inc[1]) != "vmlinux.h" {
				include(inc[1])
			}
		}
	}
	return out
}

var (
	ifdefName   = regexp.MustCompile(`^(!?)\s*defined\s*\(?\s*(\w+)\s*\)?$`)
	archDefines = regexp.MustCompile(`^(bpf_target_\w+|__TARGET_ARCH_\w+|__\w+__|__riscv|__BYTE_ORDER__)$`)
)

// condition evaluates #ifdef NAME, #ifndef NAME, #if [!]defined(NAME),
// #if NAME and #if NUMBER; known is false for anything else and for a
// name that depends on the target arch.
func (cs *cSource) condition(kind, arg string) (val, known bool) {
	name, not := arg, kind == "ifndef"
	if kind == "if" {
		if n, ok := parseNumber(arg); ok {
			return n != 0, true
		}
		m := ifdefName.FindStringSubmatch(arg)
		if m != nil {
			name, not = m[2], m[1] == "!"
		} else if identOnly.MatchString(arg) {
			if n, ok := cs.consts[arg]; ok {
				return n != 0, true
			}
		} else {
			return false, false
		}
	}
	if !identOnly.MatchString(name) {
		return false, false
	}
	switch {
	case cs.defined[name]:
		return !not, true
	case archDefines.MatchString(name):
		return false, false
	default:
		return not, true
	}
}

// functions collects the function definitions at file scope, the
// helpers programs call.
func (cs *cSource) functions(lines []string) {
	depth := 0
	for i := 0; i < len(lines); i++ {
		if depth == 0 {
			if m := funcHead.FindStringSubmatch(lines[i]); m != nil && !strings.HasPrefix(m[1], "BPF_") {
				header := lines[i]
				j := i
				for strings.Count(header, "(") > strings.Count(header, ")") && j+1 < len(lines) && j < i+8 {
					j++
					header += " " + lines[j]
				}
				open := strings.Index(header, "(")
				end := matchParen(header, open)
				if end > 0 && !strings.HasPrefix(strings.TrimSpace(header[end+1:]), ";") {
					body, first := functionBody(lines, j)
					if body != nil {
						var params []string
						for _, p := range cParamNames(header[open+1 : end]) {
							if p != "void" {
								params = append(params, p)
							}
						}
						cs.funcs[m[1]] = cFunc{params: params, body: body, first: first}
					}
				}
			}
		}
		depth += strings.Count(lines[i], "{") - strings.Count(lines[i], "}")
		if depth < 0 {
			depth = 0
		}
	}
}
