package main

import (
	"regexp"
	"strings"
)

// kbuildConds reads a kbuild Makefile and returns, for each object it
// builds (a path relative to the Makefile's directory: "pci_64.o"), the
// conditions under which it does, any of which builds it: obj-$(CONFIG_X)
// lines, the ifeq/ifdef blocks around them, the parts of composite
// objects (foo-y, foo-objs, foo-$(CONFIG_Y)) and the variables they
// name. $(BITS) is the kernel's word size: the object named with it is
// NAME_64.o on a 64-bit kernel and NAME_32.o on a 32-bit one. What it
// does not read (other variables, functions) names no object, so those
// objects have no condition and stay possible.
func kbuildConds(text string) map[string][]string {
	type word struct{ text, cond string }
	vars := map[string][]word{} // NAME of NAME-y, NAME-objs, NAME-$(CONFIG_X), obj, lib
	var stack []string
	for _, line := range kbuildLines(text) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "ifeq", "ifneq", "ifdef", "ifndef":
			stack = append(stack, makeCond(f[0], strings.TrimSpace(strings.TrimPrefix(line, f[0]))))
			continue
		case "else":
			if len(stack) == 0 {
				continue
			}
			stack[len(stack)-1] = "!(" + stack[len(stack)-1] + ")"
			if len(f) > 1 { // else ifeq ...: one more level, closed by the same endif
				stack[len(stack)-1] += " && " + makeCond(f[1], strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(line, "else")), f[1])))
			}
			continue
		case "endif":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		m := assignRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name, sel := m[1], m[2]
		cond, ok := selectorCond(sel)
		if !ok {
			continue
		}
		conds := append(append([]string{}, stack...), cond)
		for _, w := range strings.Fields(m[3]) {
			for _, v := range expandBits(w) {
				vars[name] = append(vars[name], word{v.text, joinConds(append(conds, v.cond))})
			}
		}
	}
	out := map[string][]string{}
	var visit func(w word, depth int)
	visit = func(w word, depth int) {
		if depth > 8 {
			return
		}
		if ref, ok := strings.CutPrefix(w.text, "$("); ok && strings.HasSuffix(ref, ")") {
			ref = strings.TrimSuffix(ref, ")")
			name, sel, _ := strings.Cut(ref, "-")
			if sel == "y" || sel == "objs" {
				for _, part := range vars[name] {
					visit(word{part.text, joinConds([]string{w.cond, part.cond})}, depth+1)
				}
			}
			return
		}
		obj, ok := strings.CutSuffix(w.text, ".o")
		if !ok || strings.Contains(obj, "$") {
			return
		}
		if parts, composite := vars[obj]; composite {
			for _, part := range parts {
				visit(word{part.text, joinConds([]string{w.cond, part.cond})}, depth+1)
			}
			return
		}
		out[w.text] = append(out[w.text], w.cond)
	}
	for _, top := range []string{"obj", "lib"} {
		for _, w := range vars[top] {
			visit(w, 0)
		}
	}
	return out
}

var assignRE = regexp.MustCompile(`^([A-Za-z0-9_.]+)-(y|m|objs|\$\(CONFIG_[A-Za-z0-9_]+\)(?:-\$\(CONFIG_[A-Za-z0-9_]+\))*)\s*(?:\+=|:=|\?=|=)(.*)$`)

// selectorCond reads the part of NAME-SEL that says when: y, m and objs
// always, $(CONFIG_X)-$(CONFIG_Y) when both are set.
func selectorCond(sel string) (string, bool) {
	switch sel {
	case "y", "m", "objs":
		return "", true
	}
	var conds []string
	for _, part := range strings.Split(sel, "-") {
		sym, ok := strings.CutPrefix(part, "$(")
		if !ok {
			return "", false
		}
		conds = append(conds, "defined("+strings.TrimSuffix(sym, ")")+")")
	}
	return strings.Join(conds, " && "), true
}

// makeCond reads the condition of an ifeq, ifneq, ifdef or ifndef on a
// config option; anything else is a condition nobody can evaluate.
func makeCond(directive, arg string) string {
	switch directive {
	case "ifdef", "ifndef":
		if !strings.HasPrefix(arg, "CONFIG_") || strings.ContainsAny(arg, " $()") {
			return "?"
		}
		if directive == "ifndef" {
			return "!defined(" + arg + ")"
		}
		return "defined(" + arg + ")"
	}
	m := ifeqRE.FindStringSubmatch(arg)
	if m == nil {
		return "?"
	}
	set := m[2] == "y" // ($(CONFIG_X),y); ($(CONFIG_X),) tests unset
	if m[2] != "y" && m[2] != "" {
		return "?"
	}
	if directive == "ifneq" {
		set = !set
	}
	if set {
		return "defined(" + m[1] + ")"
	}
	return "!defined(" + m[1] + ")"
}

var ifeqRE = regexp.MustCompile(`^\(\s*\$\((CONFIG_[A-Za-z0-9_]+)\)\s*,\s*(y?)\s*\)$`)

// expandBits gives a word naming $(BITS) once per word size.
func expandBits(w string) []struct{ text, cond string } {
	if !strings.Contains(w, "$(BITS)") {
		return []struct{ text, cond string }{{w, ""}}
	}
	return []struct{ text, cond string }{
		{strings.ReplaceAll(w, "$(BITS)", "64"), "defined(CONFIG_64BIT)"},
		{strings.ReplaceAll(w, "$(BITS)", "32"), "!defined(CONFIG_64BIT)"},
	}
}

func joinConds(conds []string) string {
	var out []string
	for _, c := range conds {
		if c == "" {
			continue
		}
		if strings.Contains(c, "||") {
			c = "(" + c + ")"
		}
		out = append(out, c)
	}
	return strings.Join(out, " && ")
}

// kbuildLines returns a Makefile's logical lines: continuations joined,
// comments gone.
func kbuildLines(text string) []string {
	var lines []string
	cur := ""
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		lines = append(lines, strings.TrimSpace(cur+line))
		cur = ""
	}
	if cur != "" {
		lines = append(lines, strings.TrimSpace(cur))
	}
	return lines
}
