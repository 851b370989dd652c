package scaffold

import (
	"regexp"
	"strconv"
	"strings"
)

// What a program does with its arguments, followed statement by
// statement: through locals, casts and the source's inline helpers, into
// globals and into the records it submits to a ring buffer or perf event
// array. Branches are all taken and loops run once; a store under a
// preprocessor condition that depends on the target arch is not followed
// (it is not there on every arch).

// Record is a record a program writes to a ring buffer or perf event
// array of its own.
type Record struct {
	// Map is the ring buffer or perf event array, Struct the record's
	// struct (by name), Line where the program submits it.
	Map    string
	Struct string
	Line   int
	// Fields are the fields that hold an argument, in the order the
	// program fills them.
	Fields []FieldRead
	// Thread is the field holding the calling thread (ThreadKind "tid")
	// or its process ("pid"); empty when none does.
	Thread     string
	ThreadKind string
	ThreadLine int
	// Consts are fields set to a number: what tells this program's
	// records from another's in a map they share.
	Consts map[string]uint64
	// StructFields are the struct's fields as its definition names them
	// (nil when the definition was not found).
	StructFields []string
}

// FieldRead is a field of a record holding argument Arg (1-based):
// its value, or with Content what it points to (a string, a socket
// address), copied with bpf_probe_read_user(_str).
type FieldRead struct {
	Field   string
	Arg     int
	Content bool
	Line    int
}

type valueKind int

const (
	vUnknown valueKind = iota
	vArg               // a syscall argument
	vPidTgid           // bpf_get_current_pid_tgid()
	vPid               // its upper half: the process
	vTid               // its lower half: the thread
	vConst             // a number
	vObject            // a struct: a record, a map's value, a local
	vAddr              // the address of a global (&name)
)

type value struct {
	kind    valueKind
	global  string
	arg     int
	set     string
	n       uint64
	obj     *object
	content bool
	line    int
}

// object is a struct a program fills: reserved in a ring buffer, looked
// up in a map, or a local.
type object struct {
	typ    string
	from   string // the map it came from
	fields map[string]value
	order  []string
}

func (o *object) set(field string, v value) {
	if o.fields == nil {
		o.fields = map[string]value{}
	}
	if _, ok := o.fields[field]; !ok {
		o.order = append(o.order, field)
	}
	o.fields[field] = v
}

type cFunc struct {
	params []string
	body   []string
	first  int
}

// flow follows the programs of one source.
type flow struct {
	funcs   map[string]cFunc
	globals map[string]bool
	consts  map[string]uint64
	// mapValues are what programs store in each map's values
	// (bpf_map_update_elem): an exit program reads its entry's there.
	mapValues map[string]*object
	calls     int
}

type frame struct {
	env   map[string]value
	types map[string]string
	ret   value
	out   *progOut
	depth int
}

type progOut struct {
	reads   []Read
	records []Record
	stored  map[string]bool
}

const maxInlineDepth = 4

// program follows one program's body; params are its BPF_KSYSCALL
// parameters (nil for other programs).
func (fl *flow) program(body []string, first int, params []string) ([]Read, []Record) {
	fr := &frame{env: map[string]value{}, types: map[string]string{}, out: &progOut{stored: map[string]bool{}}}
	for i, p := range params {
		fr.env[p] = value{kind: vArg, arg: i + 1, set: "ksyscall"}
	}
	fl.run(fr, body, first)
	return fr.out.reads, fr.out.records
}

func (fl *flow) run(fr *frame, body []string, first int) {
	for _, st := range statements(body, first) {
		fl.statement(fr, st.text, st.line)
	}
}

type statement struct {
	text string
	line int
}

// statements splits a body into statements at ';', '{' and '}' outside
// parentheses, each with the line it starts on.
func statements(body []string, first int) []statement {
	var out []statement
	var b strings.Builder
	depth, line, start := 0, first, 0
	flush := func() {
		if s := strings.TrimSpace(b.String()); s != "" {
			out = append(out, statement{text: s, line: start})
		}
		b.Reset()
		start = 0
	}
	for k, l := range body {
		line = first + k
		for _, r := range l {
			switch {
			case r == '(':
				depth++
			case r == ')':
				depth--
			case depth <= 0 && (r == ';' || r == '{' || r == '}'):
				flush()
				depth = 0
				continue
			}
			if start == 0 && r != ' ' && r != '\t' {
				start = line
			}
			b.WriteRune(r)
		}
		b.WriteByte('\n')
	}
	flush()
	return out
}

var (
	labelRE   = regexp.MustCompile(`^[A-Za-z_]\w*\s*:([^:]|$)`)
	controlRE = regexp.MustCompile(`^(?:if|while|for|switch)\s*\(`)
	declRE    = regexp.MustCompile(`^((?:(?:const|volatile|static|register|unsigned|signed|long|short|struct|union|enum)\s+)*[A-Za-z_]\w*)((?:\s*\*+\s*|\s+)[A-Za-z_]\w*\s*(?:\[[^\]]*\])?\s*(?:[=,][\s\S]*)?)$`)
	declName  = regexp.MustCompile(`^(\**)\s*([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*(?:=\s*([\s\S]*))?$`)
	castRE    = regexp.MustCompile(`^\(\s*((?:(?:const|volatile|unsigned|signed|long|short|struct|union|enum)\s+)*[A-Za-z_]\w*[\s\*]*)\)\s*(\S[\s\S]*)$`)
	callRE    = regexp.MustCompile(`^([A-Za-z_]\w*)\s*\(([\s\S]*)\)$`)
	identOnly = regexp.MustCompile(`^[A-Za-z_]\w*$`)
	regsParmN = regexp.MustCompile(`^PT_REGS_PARM(\d)_(CORE_)?SYSCALL$`)
)

var notTypes = map[string]bool{"return": true, "goto": true, "case": true, "else": true, "sizeof": true, "do": true}

func (fl *flow) statement(fr *frame, s string, line int) {
	s = strings.TrimSpace(s)
	for {
		switch {
		case labelRE.MatchString(s) && !strings.HasPrefix(s, "default"):
			s = strings.TrimSpace(s[strings.Index(s, ":")+1:])
			continue
		case strings.HasPrefix(s, "else") && (len(s) == 4 || !isIdentByte(s[4])):
			s = strings.TrimSpace(s[4:])
			continue
		case strings.HasPrefix(s, "do") && (len(s) == 2 || !isIdentByte(s[2])):
			s = strings.TrimSpace(s[2:])
			continue
		case controlRE.MatchString(s):
			open := strings.Index(s, "(")
			end := matchParen(s, open)
			if end < 0 {
				return
			}
			s = strings.TrimSpace(s[end+1:])
			continue
		}
		break
	}
	if s == "" {
		return
	}
	if rest, ok := strings.CutPrefix(s, "return"); ok && (rest == "" || !isIdentByte(rest[0])) {
		if v := fl.eval(fr, rest); v.kind == vObject || fr.ret.kind == vUnknown {
			fr.ret = v
		}
		return
	}
	if m := declRE.FindStringSubmatch(s); m != nil && !notTypes[firstWord(m[1])] {
		fl.declare(fr, m[1], m[2], line)
		return
	}
	if i := assignIndex(s); i > 0 {
		v := fl.eval(fr, s[i+1:])
		v.line = line
		fl.store(fr, s[:i], v)
		return
	}
	if m := callRE.FindStringSubmatch(s); m != nil {
		fl.call(fr, m[1], splitArgs(m[2]), line)
	}
}

// declare binds the declarators of one declaration (__u32 tid = id, zero = 0).
func (fl *flow) declare(fr *frame, typ, rest string, line int) {
	structName := ""
	if f := strings.Fields(typ); len(f) >= 2 && (f[len(f)-2] == "struct" || f[len(f)-2] == "union") {
		structName = f[len(f)-1]
	}
	for _, d := range splitArgs(rest) {
		m := declName.FindStringSubmatch(strings.TrimSpace(d))
		if m == nil {
			continue
		}
		name, pointer, init := m[2], m[1] != "", strings.TrimSpace(m[4])
		if structName != "" {
			fr.types[name] = structName
		}
		switch {
		case init != "" && !strings.HasPrefix(init, "{"):
			v := fl.eval(fr, init)
			v.line = line
			if v.kind == vPidTgid && !pointer && is32(typ) {
				v.kind = vTid // __u32 tid = bpf_get_current_pid_tgid();
			}
			if v.kind == vObject && v.obj.typ == "" {
				v.obj.typ = structName
			}
			fr.env[name] = v
		case structName != "" && !pointer:
			fr.env[name] = value{kind: vObject, obj: &object{typ: structName}}
		default:
			delete(fr.env, name)
		}
	}
}

// store puts v where lhs says: a field of a struct, a global, a local.
func (fl *flow) store(fr *frame, lhs string, v value) {
	lhs = strings.TrimSpace(lhs)
	lhs = strings.TrimSuffix(strings.TrimPrefix(lhs, "&"), "[0]")
	lhs = trimParens(lhs)
	if base, field, ok := splitMember(lhs); ok {
		if b := fr.env[base]; b.kind == vObject {
			b.obj.set(field, v)
		}
		return
	}
	if p, ok := strings.CutPrefix(lhs, "*"); ok {
		// *dst = v, dst holding &global: a helper storing for its caller.
		if a := fr.env[strings.TrimSpace(p)]; a.kind == vAddr {
			lhs = a.global
		}
	}
	if !identOnly.MatchString(lhs) {
		return
	}
	if fl.globals[lhs] && v.kind == vArg && !fr.out.stored[lhs] {
		fr.out.stored[lhs] = true
		fr.out.reads = append(fr.out.reads, Read{Global: lhs, Arg: v.arg, Set: v.set, Line: v.line})
	}
	if v.kind == vObject && v.obj.typ == "" {
		v.obj.typ = fr.types[lhs]
	}
	fr.env[lhs] = v
}

// Helpers that copy what a pointer points to: (dst, size, src).
var copyHelpers = map[string]bool{
	"bpf_probe_read_user_str": true, "bpf_probe_read_user": true, "bpf_probe_read_str": true,
	"bpf_probe_read": true, "bpf_core_read_user": true, "bpf_core_read_user_str": true,
}

// call follows a call made for its effect.
func (fl *flow) call(fr *frame, name string, args []string, line int) {
	switch {
	case copyHelpers[name] && len(args) == 3:
		if v := fl.eval(fr, args[2]); v.kind == vArg {
			v.content, v.line = true, line
			fl.store(fr, args[0], v)
		}
	case name == "bpf_map_update_elem" && len(args) >= 3:
		m, v := mapArg(args[0]), fl.eval(fr, strings.TrimPrefix(strings.TrimSpace(args[2]), "&"))
		if m != "" && v.kind == vObject {
			mv := fl.mapValues[m]
			if mv == nil {
				mv = &object{typ: v.obj.typ}
				fl.mapValues[m] = mv
			}
			for _, f := range v.obj.order {
				mv.set(f, v.obj.fields[f])
			}
		}
	case name == "bpf_ringbuf_submit" && len(args) >= 1:
		if v := fl.eval(fr, args[0]); v.kind == vObject && v.obj.from != "" {
			fr.out.submit(v.obj.from, v.obj, line)
		}
	case name == "bpf_ringbuf_output" && len(args) >= 2:
		if v := fl.eval(fr, strings.TrimPrefix(strings.TrimSpace(args[1]), "&")); v.kind == vObject {
			fr.out.submit(mapArg(args[0]), v.obj, line)
		}
	case name == "bpf_perf_event_output" && len(args) >= 4:
		if v := fl.eval(fr, strings.TrimPrefix(strings.TrimSpace(args[3]), "&")); v.kind == vObject {
			fr.out.submit(mapArg(args[1]), v.obj, line)
		}
	case fl.funcs[name].body != nil:
		fl.inline(fr, name, args)
	case len(args) >= 2 && !strings.HasPrefix(name, "bpf_") && !strings.HasPrefix(name, "__builtin"):
		// A macro that stores its second argument in its first
		// (READ_REG(arg2, PT_REGS_PARM2_SYSCALL(regs))).
		target := strings.TrimPrefix(strings.TrimSpace(args[0]), "&")
		if fl.globals[target] || fr.env[target].kind != vObject {
			v := fl.eval(fr, args[1])
			v.line = line
			fl.store(fr, target, v)
		}
	}
}

// submit records that the program writes obj to map m.
func (out *progOut) submit(m string, obj *object, line int) {
	if m == "" {
		return
	}
	for _, r := range out.records {
		if r.Map == m && r.Struct == obj.typ {
			return
		}
	}
	r := Record{Map: m, Struct: obj.typ, Line: line}
	for _, f := range obj.order {
		v := obj.fields[f]
		switch v.kind {
		case vArg:
			r.Fields = append(r.Fields, FieldRead{Field: f, Arg: v.arg, Content: v.content, Line: v.line})
		case vTid, vPid:
			if r.Thread == "" || r.ThreadKind == "pid" && v.kind == vTid {
				r.Thread, r.ThreadKind, r.ThreadLine = f, map[valueKind]string{vTid: "tid", vPid: "pid"}[v.kind], v.line
			}
		case vConst:
			if r.Consts == nil {
				r.Consts = map[string]uint64{}
			}
			r.Consts[f] = v.n
		}
	}
	out.records = append(out.records, r)
}

// inline follows a helper of the source with its parameters bound to the
// caller's arguments, and returns what it returns.
func (fl *flow) inline(fr *frame, name string, args []string) value {
	fn := fl.funcs[name]
	if fr.depth >= maxInlineDepth || fl.calls > 10000 {
		return value{}
	}
	fl.calls++
	callee := &frame{env: map[string]value{}, types: map[string]string{}, out: fr.out, depth: fr.depth + 1}
	for i, p := range fn.params {
		if i < len(args) {
			callee.env[p] = fl.eval(fr, args[i])
		}
	}
	fl.run(callee, fn.body, fn.first)
	return callee.ret
}

// eval is what an expression holds, as far as a reader can tell.
func (fl *flow) eval(fr *frame, e string) value {
	e = trimParens(strings.TrimSpace(e))
	if e == "" {
		return value{}
	}
	if m := castRE.FindStringSubmatch(e); m != nil && matchParen(e, 0) == strings.Index(e, ")") {
		v := fl.eval(fr, m[2])
		if v.kind == vPidTgid && is32(m[1]) {
			return value{kind: vTid}
		}
		return v
	}
	if i := topLevelIndex(e, ">>"); i > 0 {
		if fl.eval(fr, e[:i]).kind == vPidTgid && strings.TrimSpace(e[i+2:]) == "32" {
			return value{kind: vPid}
		}
		return value{}
	}
	if i := topLevelIndex(e, "&"); i > 0 && !strings.HasPrefix(e[i:], "&&") {
		if fl.eval(fr, e[:i]).kind == vPidTgid && strings.EqualFold(strings.TrimRight(strings.TrimSpace(e[i+1:]), "uUlL"), "0xffffffff") {
			return value{kind: vTid}
		}
		return value{}
	}
	if g, ok := strings.CutPrefix(e, "&"); ok && fl.globals[strings.TrimSpace(g)] {
		return value{kind: vAddr, global: strings.TrimSpace(g)}
	}
	if m := callRE.FindStringSubmatch(e); m != nil && matchParen(e, strings.Index(e, "(")) == len(e)-1 {
		return fl.callValue(fr, m[1], splitArgs(m[2]))
	}
	if base, field, ok := splitMember(e); ok {
		b := fr.env[base]
		if b.kind != vObject {
			return value{}
		}
		if v, ok := b.obj.fields[field]; ok {
			return v
		}
		if mv := fl.mapValues[b.obj.from]; mv != nil {
			return mv.fields[field]
		}
		return value{}
	}
	if identOnly.MatchString(e) {
		if v, ok := fr.env[e]; ok {
			return v
		}
		if n, ok := fl.consts[e]; ok {
			return value{kind: vConst, n: n}
		}
		return value{}
	}
	if n, ok := parseNumber(e); ok {
		return value{kind: vConst, n: n}
	}
	return value{}
}

func (fl *flow) callValue(fr *frame, name string, args []string) value {
	if m := regsParmN.FindStringSubmatch(name); m != nil {
		n, _ := strconv.Atoi(m[1])
		set := "syscall"
		if m[2] != "" {
			set = "core"
		}
		return value{kind: vArg, arg: n, set: set}
	}
	switch name {
	case "bpf_get_current_pid_tgid":
		return value{kind: vPidTgid}
	case "bpf_ringbuf_reserve", "bpf_map_lookup_elem":
		if len(args) > 0 {
			return value{kind: vObject, obj: &object{from: mapArg(args[0])}}
		}
	}
	if fl.funcs[name].body != nil {
		return fl.inline(fr, name, args)
	}
	return value{}
}

// mapArg is the map an argument names (&events).
func mapArg(a string) string {
	a = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(a), "&"))
	if identOnly.MatchString(a) {
		return a
	}
	return ""
}

// splitMember splits a->b.c into a and b.c.
func splitMember(e string) (string, string, bool) {
	i := strings.IndexAny(e, "-.")
	if i <= 0 || !identOnly.MatchString(strings.TrimSpace(e[:i])) {
		return "", "", false
	}
	rest := e[i:]
	switch {
	case strings.HasPrefix(rest, "->"):
		rest = rest[2:]
	case strings.HasPrefix(rest, "."):
		rest = rest[1:]
	default:
		return "", "", false
	}
	rest = strings.ReplaceAll(strings.TrimSpace(rest), "->", ".")
	if !fieldPath.MatchString(rest) {
		return "", "", false
	}
	return strings.TrimSpace(e[:i]), rest, true
}

var fieldPath = regexp.MustCompile(`^[A-Za-z_]\w*(\.[A-Za-z_]\w*|\[\d+\])*$`)

// assignIndex is the index of the '=' of a plain assignment, or -1.
func assignIndex(s string) int {
	i := topLevel(s, func(i int) bool { return s[i] == '=' })
	switch {
	case i < 0:
		return -1
	case i+1 < len(s) && s[i+1] == '=', i > 0 && strings.ContainsRune("=!<>+-*/%&|^", rune(s[i-1])):
		return -1 // a comparison or a compound assignment
	}
	return i
}

// topLevelIndex is the first index of op outside parentheses.
func topLevelIndex(s, op string) int {
	return topLevel(s, func(i int) bool { return strings.HasPrefix(s[i:], op) })
}

// topLevel is the first index of s outside parentheses and brackets at
// which at holds, or -1.
func topLevel(s string, at func(i int) bool) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		default:
			if depth == 0 && at(i) {
				return i
			}
		}
	}
	return -1
}

// splitArgs splits a C argument list at top-level commas.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" || len(out) > 0 {
		out = append(out, t)
	}
	return out
}

// matchParen is the index of the parenthesis closing the one at open.
func matchParen(s string, open int) int {
	if open < 0 || open >= len(s) || s[open] != '(' {
		return -1
	}
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// trimParens drops parentheses around the whole expression.
func trimParens(e string) string {
	for strings.HasPrefix(e, "(") && matchParen(e, 0) == len(e)-1 {
		e = strings.TrimSpace(e[1 : len(e)-1])
	}
	return e
}

func is32(typ string) bool {
	switch strings.Join(strings.Fields(strings.TrimRight(typ, " *")), " ") {
	case "__u32", "u32", "uint32_t", "unsigned int", "unsigned", "int", "__s32", "s32", "pid_t":
		return !strings.Contains(typ, "*")
	}
	return false
}

func parseNumber(s string) (uint64, bool) {
	s = strings.TrimRight(strings.TrimSpace(s), "uUlL")
	neg := strings.HasPrefix(s, "-")
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "-"), 0, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func isIdentByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}
