package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A definition is one definition of a syscall entry point in the kernel
// source, as the kernel writes it: a SYSCALL_DEFINEn-family macro
// invocation, a plain asmlinkage function (arm's sys_oabi_*, mips'
// sys32_*), an assembly stub that passes the call on to a C function
// (stubFor), or an assembly entry point (asm).
type definition struct {
	entry  string // sys_write, compat_sys_ia32_clone
	params []param
	file   string
	line   int
	// macro is how it is defined: "SYSCALL_DEFINE3", "asmlinkage".
	macro string
	// conds are the preprocessor conditions around it, outermost first,
	// as written (#ifdef X is "defined(X)", an #else branch "!(X)").
	conds []string
	// stubFor, for an assembly stub (mips' save_static_function, arm's
	// sys_mmap2), is the C function it passes the call's arguments to.
	stubFor string
	// asm is set for an assembly entry point (no C parameters to read).
	asm bool
	// err says why the definition's parameters could not be read.
	err string
}

// A param is one parameter of a definition: its C type and name.
type param struct{ typ, name string }

func (d definition) where() string { return fmt.Sprintf("%s:%d", d.file, d.line) }

// byteOrder says how a 64-bit argument split into two registers is
// ordered (the kernel's compat_arg_u64_dual and its arch variants).
type byteOrder int

const (
	littleEndian byteOrder = iota
	bigEndian
)

// splitArg64 are the kernel macros that stand for a 64-bit argument passed
// in two 32-bit registers, expanded by byte order: NAME_lo, NAME_hi on a
// little-endian kernel. SC_ARG64 and compat_arg_u64_dual take the
// SYSCALL_DEFINE form (type, name, type, name); compat_arg_u64 the plain C
// one.
var splitArg64 = map[string]bool{"compat_arg_u64_dual": true, "compat_arg_u64": true, "SC_ARG64": true, "arg_u32p": true}

// defineMacros are the macros that define a syscall's entry point from
// its name and (type, name) pairs, and the names each defines: the
// SYSCALL32 and PPC32 macros are the compat ones on a 64-bit kernel, the
// native ones on a 32-bit kernel (include/linux/syscalls.h,
// arch/powerpc/kernel/sys_ppc32.c).
var defineMacros = map[string][]struct{ prefix, cond string }{
	"SYSCALL_DEFINE":        {{"sys_", ""}},
	"COMPAT_SYSCALL_DEFINE": {{"compat_sys_", ""}},
	"SYSCALL32_DEFINE":      {{"compat_sys_", "defined(CONFIG_COMPAT)"}, {"sys_", "!defined(CONFIG_COMPAT)"}},
	"PPC32_SYSCALL_DEFINE":  {{"sys_", "defined(CONFIG_PPC32)"}, {"compat_sys_", "!defined(CONFIG_PPC32)"}},
}

var (
	defineRE = regexp.MustCompile(`\b(COMPAT_SYSCALL_DEFINE|SYSCALL32_DEFINE|PPC32_SYSCALL_DEFINE|SYSCALL_DEFINE)([0-6])\s*\(`)
	// An asmlinkage function: its return type and attributes, then the
	// name and the opening parenthesis.
	asmlinkageRE = regexp.MustCompile(`\basmlinkage\s+(?:[A-Za-z_][A-Za-z0-9_]*\s*\**\s*)*?([A-Za-z_][A-Za-z0-9_]*)\s*\(`)
	condRE       = regexp.MustCompile(`\bCOND_SYSCALL(_COMPAT)?\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)`)
	stubRE       = regexp.MustCompile(`\bsave_static_function\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)`)
	// Assembly entry points: LEAF(sys_syscall), ENTRY(sys_x),
	// SYM_FUNC_START(sys_x), or a "sys_x:" label.
	asmRE   = regexp.MustCompile(`(?m)(?:\b(?:LEAF|NESTED|ENTRY|SYM_FUNC_START|SYM_CODE_START|_GLOBAL|SYSCALL_ALIAS)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)|^[ \t]*([A-Za-z_][A-Za-z0-9_]*):)`)
	identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// parseC returns the syscall definitions in one C file of the kernel.
// Definitions inside #define bodies (the macros themselves) are skipped;
// each keeps the #if conditions around it.
func parseC(file, text string, order byteOrder) []definition {
	code, condsAt := preprocess(text)
	lineOf := lineIndex(code)
	var defs []definition
	for _, m := range defineRE.FindAllStringSubmatchIndex(code, -1) {
		macro := code[m[2]:m[3]]
		n := int(code[m[4]] - '0')
		args, _, ok := balanced(code, m[1]-1)
		line := lineOf(m[0])
		base := definition{file: file, line: line, macro: macro + code[m[4]:m[5]], conds: condsAt[line]}
		if !ok {
			base.err = "unbalanced parentheses"
			base.entry = macro
			defs = append(defs, base)
			continue
		}
		fields := splitTop(args)
		name := strings.TrimSpace(fields[0])
		params, err := pairParams(fields[1:], n, order)
		for _, v := range defineMacros[macro] {
			d := base
			d.entry = v.prefix + name
			d.params = params
			if err != nil {
				d.err = err.Error()
			}
			if v.cond != "" {
				d.conds = append(slices.Clone(d.conds), v.cond)
			}
			defs = append(defs, d)
		}
	}
	for _, m := range asmlinkageRE.FindAllStringSubmatchIndex(code, -1) {
		args, end, ok := balanced(code, m[1]-1)
		if !ok || !isDefinition(code[end:]) {
			continue // a declaration
		}
		line := lineOf(m[0])
		d := definition{entry: code[m[2]:m[3]], file: file, line: line, macro: "asmlinkage", conds: condsAt[line]}
		var err error
		if d.params, err = cParams(args, order); err != nil {
			d.err = err.Error()
		}
		defs = append(defs, d)
	}
	// COND_SYSCALL(x): sys_x is sys_ni_syscall unless something defines
	// it. Kept under a name no entry point has.
	for _, m := range condRE.FindAllStringSubmatchIndex(code, -1) {
		prefix := "sys_"
		if m[2] >= 0 {
			prefix = "compat_sys_"
		}
		line := lineOf(m[0])
		defs = append(defs, definition{entry: "cond:" + prefix + code[m[4]:m[5]], file: file, line: line, macro: "COND_SYSCALL", conds: condsAt[line]})
	}
	for _, m := range stubRE.FindAllStringSubmatchIndex(code, -1) {
		line := lineOf(m[0])
		fn := code[m[2]:m[3]]
		defs = append(defs, definition{entry: "__" + fn, stubFor: fn, file: file, line: line, macro: "save_static_function", conds: condsAt[line]})
	}
	return defs
}

// parseAsm returns the entry points an assembly file defines. One whose
// body only moves registers about and ends in a branch to a C function
// (arm's sys_mmap2: b sys_mmap_pgoff) is a stub for that function.
func parseAsm(file, text string) []definition {
	code, condsAt := preprocess(text)
	lineOf := lineIndex(code)
	var defs []definition
	matches := asmRE.FindAllStringSubmatchIndex(code, -1)
	for i, m := range matches {
		name := ""
		if m[2] >= 0 {
			name = code[m[2]:m[3]]
		} else {
			name = code[m[4]:m[5]]
		}
		if !strings.Contains(name, "sys") {
			continue
		}
		end := len(code)
		if i+1 < len(matches) {
			end = matches[i+1][0]
		}
		body := code[m[1]:end]
		if j := asmEndRE.FindStringIndex(body); j != nil {
			body = body[:j[0]]
		}
		line := lineOf(m[0])
		d := definition{entry: name, file: file, line: line, macro: "assembly", conds: condsAt[line], asm: true}
		if target := tailBranch(body); target != "" {
			d.stubFor, d.asm, d.macro = target, false, "assembly stub"
		}
		defs = append(defs, d)
	}
	return defs
}

var (
	asmEndRE = regexp.MustCompile(`\b(?:ENDPROC|END|SYM_FUNC_END|SYM_CODE_END)\s*\(|\.size\b`)
	// An unconditional branch to a symbol: arm's b, mips' j, x86's jmp.
	branchRE = regexp.MustCompile(`^(?:b|j|jmp)\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:[@;].*)?$`)
)

// tailBranch returns the function an assembly stub ends by branching to,
// when its body is at most three instructions, only the last branches,
// and none names pc or another function.
func tailBranch(body string) string {
	var insns []string
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, ".") || strings.HasSuffix(line, ":") {
			continue
		}
		insns = append(insns, line)
	}
	if len(insns) == 0 || len(insns) > 3 {
		return ""
	}
	m := branchRE.FindStringSubmatch(insns[len(insns)-1])
	if m == nil {
		return ""
	}
	for _, in := range insns[:len(insns)-1] {
		if strings.Contains(in, "pc") || strings.Contains(in, "sys_") || branchRE.MatchString(in) {
			return ""
		}
	}
	return m[1]
}

// isDefinition reports whether what follows a function's parameter list
// is its body (after attributes), not the ; of a declaration.
func isDefinition(rest string) bool {
	for {
		rest = strings.TrimLeft(rest, " \t\n")
		switch {
		case strings.HasPrefix(rest, "{"):
			return true
		case strings.HasPrefix(rest, "__attribute__"):
			_, end, ok := balanced(rest, strings.IndexByte(rest, '('))
			if !ok {
				return false
			}
			rest = rest[end:]
		default:
			word := strings.TrimLeft(rest, "_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
			if len(word) == len(rest) {
				return false
			}
			rest = word // __noreturn, __visible and the like
		}
	}
}

// pairParams reads a SYSCALL_DEFINEn's (type, name) arguments: n pairs.
func pairParams(fields []string, n int, order byteOrder) ([]param, error) {
	var flat []string
	for _, f := range fields {
		f = normSpace(f)
		if halves, ok := splitArg(f, order); ok {
			for _, h := range halves {
				flat = append(flat, h.typ, h.name)
			}
			continue
		}
		flat = append(flat, f)
	}
	if n == 0 {
		if len(flat) != 0 {
			return nil, fmt.Errorf("%d arguments after the name of a DEFINE0", len(flat))
		}
		return []param{}, nil
	}
	if len(flat) != 2*n {
		return nil, fmt.Errorf("want %d (type, name) pairs, got %d fields: %s", n, len(flat), strings.Join(flat, ", "))
	}
	params := make([]param, n)
	for i := range params {
		typ, name := flat[2*i], flat[2*i+1]
		if !identRE.MatchString(name) {
			return nil, fmt.Errorf("parameter %d: %q is not a name", i+1, name)
		}
		params[i] = param{typ: normType(typ), name: name}
	}
	return params, nil
}

// cParams reads a plain C parameter list: "const char __user *filename,
// int flags", or "void".
func cParams(list string, order byteOrder) ([]param, error) {
	list = normSpace(list)
	if list == "" || list == "void" {
		return []param{}, nil
	}
	var params []param
	for i, f := range splitTop(list) {
		f = normSpace(f)
		if halves, ok := splitArg(f, order); ok {
			params = append(params, halves...)
			continue
		}
		j := len(f)
		for j > 0 && isIdent(f[j-1]) {
			j--
		}
		name, typ := f[j:], strings.TrimSpace(f[:j])
		if typ == "" || !identRE.MatchString(name) {
			return nil, fmt.Errorf("parameter %d: cannot tell type from name in %q", i+1, f)
		}
		params = append(params, param{typ: normType(typ), name: name})
	}
	return params, nil
}

// splitArg expands a splitArg64 macro, "compat_arg_u64_dual(pos)", into
// the two 32-bit parameters it stands for, in the kernel's byte order.
func splitArg(field string, order byteOrder) ([]param, bool) {
	macro, arg, ok := macroCall(field)
	if !ok || !splitArg64[macro] {
		return nil, false
	}
	lo, hi := param{"u32", arg + "_lo"}, param{"u32", arg + "_hi"}
	if order == bigEndian {
		return []param{hi, lo}, true
	}
	return []param{lo, hi}, true
}

// macroCall reads "NAME(ARG)" with one identifier argument.
func macroCall(s string) (name, arg string, ok bool) {
	name, rest, found := strings.Cut(s, "(")
	name, rest = strings.TrimSpace(name), strings.TrimSpace(rest)
	if !found || !identRE.MatchString(name) || !strings.HasSuffix(rest, ")") {
		return "", "", false
	}
	arg = strings.TrimSpace(strings.TrimSuffix(rest, ")"))
	return name, arg, identRE.MatchString(arg)
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// normType writes a C type one way: single spaces, "char __user *",
// "void __user **". A const or volatile on a parameter passed by value
// is not part of the function's type ("const clockid_t" is clockid_t),
// and goes.
func normType(t string) string {
	t = strings.ReplaceAll(t, "*", " * ")
	t = normSpace(t)
	for strings.Contains(t, "* *") {
		t = strings.ReplaceAll(t, "* *", "**")
	}
	if !strings.Contains(t, "*") {
		var words []string
		for _, w := range strings.Fields(t) {
			if w != "const" && w != "volatile" {
				words = append(words, w)
			}
		}
		t = strings.Join(words, " ")
	}
	return t
}

// balanced returns the text between the parenthesis at open and its
// match, and the offset after the match.
func balanced(s string, open int) (inner string, end int, ok bool) {
	if open < 0 || open >= len(s) || s[open] != '(' {
		return "", 0, false
	}
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[open+1 : i], i + 1, true
			}
		}
	}
	return "", 0, false
}

// splitTop splits s at the commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// preprocess blanks C comments and preprocessor directives (and #define
// bodies with them) out of text, keeping every newline so offsets keep
// their line, and returns with it the #if conditions in force on each
// line (1-based).
func preprocess(text string) (string, [][]string) {
	b := []byte(stripComments(text))
	// level is one #if's branches so far: the conditions of the branches
	// before this one, and this one's ("" for #else).
	type level struct {
		before []string
		cur    string
	}
	var stack []level
	conds := func() []string {
		var out []string
		for _, l := range stack {
			var parts []string
			for _, p := range l.before {
				parts = append(parts, "!("+p+")")
			}
			if l.cur != "" {
				parts = append(parts, l.cur)
			}
			out = append(out, strings.Join(parts, " && "))
		}
		return out
	}
	condsAt := [][]string{nil}
	lineStart := 0
	var current []string
	for lineStart <= len(b) {
		end := lineStart
		for end < len(b) && b[end] != '\n' {
			end++
		}
		lines := 1
		// A directive and its continuation lines.
		if t := strings.TrimLeft(string(b[lineStart:end]), " \t"); strings.HasPrefix(t, "#") {
			for end < len(b) && end > lineStart && b[end-1] == '\\' {
				end++
				for end < len(b) && b[end] != '\n' {
					end++
				}
				lines++
			}
			directive := strings.ReplaceAll(string(b[lineStart:end]), "\\\n", " ")
			for i := lineStart; i < end; i++ {
				if b[i] != '\n' {
					b[i] = ' '
				}
			}
			for range lines {
				condsAt = append(condsAt, current)
			}
			word, rest, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(directive), "#")), " ")
			rest = normSpace(rest)
			switch word {
			case "if":
				stack = append(stack, level{cur: rest})
			case "ifdef":
				stack = append(stack, level{cur: "defined(" + rest + ")"})
			case "ifndef":
				stack = append(stack, level{cur: "!defined(" + rest + ")"})
			case "elif", "else":
				if len(stack) > 0 {
					l := &stack[len(stack)-1]
					l.before = append(l.before, l.cur)
					l.cur = ""
					if word == "elif" {
						l.cur = rest
					}
				}
			case "endif":
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
			}
			current = conds()
		} else {
			condsAt = append(condsAt, current)
		}
		lineStart = end + 1
	}
	return string(b), condsAt
}

// stripComments replaces C comments, and what string and character
// literals hold, with spaces, keeping newlines: neither can define
// anything.
func stripComments(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"' || b[i] == '\'':
			q := b[i]
			for i++; i < len(b) && b[i] != q && b[i] != '\n'; i++ {
				if b[i] == '\\' && i+1 < len(b) && b[i+1] != '\n' {
					b[i] = ' '
					i++
				}
				b[i] = ' '
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			j := i
			for ; j < len(b) && !(b[j] == '*' && j+1 < len(b) && b[j+1] == '/' && j > i+1); j++ {
				if b[j] != '\n' {
					b[j] = ' '
				}
			}
			if j+1 < len(b) {
				b[j], b[j+1] = ' ', ' '
			}
			i = j + 1
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		}
	}
	return string(b)
}

// lineIndex returns a function from an offset in text to its line.
func lineIndex(text string) func(int) int {
	var starts []int
	starts = append(starts, 0)
	for i := range len(text) {
		if text[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return func(off int) int {
		i, _ := slices.BinarySearch(starts, off+1)
		return i
	}
}
