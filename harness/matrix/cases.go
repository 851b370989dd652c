package matrix

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/sysparams"
)

// Catalogue is a decoded case catalogue (bpf/cases.yaml, or a user's):
// cases, and the users' BPF collections their probes come from.
type Catalogue struct {
	APIVersion  string          `yaml:"apiVersion"`
	Collections []CollectionDef `yaml:"collections"`
	Cases       []CaseDef       `yaml:"cases"`
	// Dir is the directory the file is in: paths in it are relative to it.
	Dir string `yaml:"-"`
}

// CaseDef is one case: how the agent makes the call, which probe should
// see it, and what is expected of each argument, per arch where that
// differs.
type CaseDef struct {
	Name string `yaml:"name"`
	// Collection is the BPF object the probes come from: ksystest's own
	// (the default) or a user's.
	Collection string `yaml:"collection"`
	// Probe is a program that reports through ksystest's ring buffer
	// (ksystest.h): attached for the case, its report is the case's main
	// capture. Optional when Captures say where the readings are.
	Probe   string `yaml:"probe"`
	Syscall string `yaml:"syscall"`
	// Args are in the syscall's x86_64 order, the order probes report.
	Args []ArgDef `yaml:"args"`

	// Via is how the call is made: raw (default), effects (raw, for real,
	// and what the kernel did with each argument checked: clone),
	// go:syscall.Mmap, go:syscall.Connect or go:net.Dial.
	Via string `yaml:"via"`
	// Compat makes the call from a 32-bit program (arches with a
	// 32-bit ABI that Go builds: x86_64, arm64).
	Compat bool `yaml:"compat"`
	// Arches restricts the case to these arches; empty means all.
	Arches []string `yaml:"arches"`
	// Order gives, per arch, the register order of a raw call when it is
	// not Args' order: register i gets argument Order[i] (1-based).
	Order map[string][]int `yaml:"order"`
	// Pack lists the arches where a raw call passes its arguments in a
	// user-memory array whose address is the only register argument.
	Pack []string `yaml:"pack"`
	// AtEntry attaches the probe at the function's entry on every arch,
	// as cilium/ebpf and libbpf do, even where ksystest would attach past
	// an ftrace patch site the kernel refuses to probe.
	AtEntry bool `yaml:"atEntry"`

	// Quirk groups cases that show one calling-convention quirk (mmap,
	// clone, socketcall, compat) in the quirk table.
	Quirk string `yaml:"quirk"`
	// Role is plain (default), naive (written with the x86_64
	// signature, as users first write it) or aware (written to recover
	// the real arguments).
	Role string `yaml:"role"`
	// Quirks predict, per arch, how a naive probe goes wrong there.
	Quirks map[string]Prediction `yaml:"quirks"`
	// Captures are more sets of readings of the call, from the user's
	// globals, maps or ring buffer sets, each checked and shown.
	Captures []CaptureDef `yaml:"captures"`
	// Workload makes this a workload case: a program runs, and its calls
	// are the expectation (see WorkloadDef).
	Workload *WorkloadDef `yaml:"workload"`
}

// Prediction is how a probe goes wrong on one arch. Exactly one of Swap,
// Never, Pointer, Regs, NoLoad, Refused, WrongRegs and LoaderWrapper is
// set.
type Prediction struct {
	// Swap: the two arguments (1-based) arrive in each other's place.
	Swap []int `yaml:"swap"`
	// Never: the probe never fires for the call (it may not even attach).
	Never bool `yaml:"never"`
	// Pointer: argument 1 is the address of a struct holding the
	// arguments; the others are not arguments.
	Pointer bool `yaml:"pointer"`
	// Regs: the probe reports, as argument i, what register Regs[i]
	// (1-based, of the six the agent fills) carried: it reads another
	// ABI's registers.
	Regs []int `yaml:"regs"`
	// NoLoad: the kernel refuses to load the probe.
	NoLoad bool `yaml:"noload"`
	// Refused: the loader refuses the collection, to load it or to
	// attach its programs (a collection's loadFails; not in catalogues).
	Refused bool `yaml:"-"`
	// WrongRegs: the probe fires but reads registers that are not the
	// call's (another ABI's pt_regs, or another pointer to them).
	WrongRegs bool `yaml:"wrongRegs"`
	// LoaderWrapper: the loader resolved LINUX_HAS_SYSCALL_WRAPPER against
	// the kernel, so BPF_KSYSCALL reads the wrong pt_regs. Derived from
	// the run; the catalogue does not state it.
	LoaderWrapper bool `yaml:"-"`
	// Why is the reason, for the report.
	Why string `yaml:"why"`
}

// String describes the prediction in words.
func (p Prediction) String() string {
	switch {
	case len(p.Swap) == 2:
		return fmt.Sprintf("args %d and %d swapped", p.Swap[0], p.Swap[1])
	case p.Never:
		return "never fires"
	case p.Pointer:
		return "arg 1 is a pointer to a struct of the arguments"
	case len(p.Regs) > 0:
		var regs []string
		for _, r := range p.Regs {
			regs = append(regs, fmt.Sprint(r))
		}
		return "reads registers " + strings.Join(regs, ", ")
	case p.NoLoad:
		return "does not load"
	case p.Refused:
		return "the loader refuses it"
	case p.WrongRegs:
		return "reads registers that are not the call's"
	case p.LoaderWrapper:
		return "reads the wrong pt_regs"
	}
	return "?"
}

// ArgDef is one argument: its value as passed and what is expected of
// the probe's capture of it.
type ArgDef struct {
	// Name labels the argument. A label that names a parameter of the
	// kernel's (through sysparams' aliases) is checked against the
	// register the kernel has it in; one that names none is only a label,
	// noticed in the report. Left out, the kernel source's name for the
	// parameter in the argument's place is used (Plan).
	Name  string   `yaml:"name"`
	Value ArgValue `yaml:"value"`
	// Expect is match (captured equals passed; the default), ignore (the
	// default for value "any") or differ, per arch where it differs.
	Expect Expect `yaml:"expect"`
}

// ArgValue keeps an argument exactly as written, number or string, so
// 0x4444000000004444 is not rounded through a float.
type ArgValue string

// UnmarshalYAML takes the raw scalar.
func (v *ArgValue) UnmarshalYAML(b []byte) error {
	s := strings.TrimSpace(string(b))
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	*v = ArgValue(s)
	return nil
}

// Case roles.
const (
	RolePlain = "plain"
	RoleNaive = "naive"
	RoleAware = "aware"
)

// LoadCatalogue reads and validates a case catalogue file.
func LoadCatalogue(file string) (*Catalogue, error) {
	return loadCatalogue(diskFS(file))
}

func loadCatalogue(src source) (*Catalogue, error) {
	c := Catalogue{Dir: src.dir()}
	if err := loadFile(src, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ApplyDefaults fills every field left empty.
func (c *Catalogue) ApplyDefaults() {
	for i := range c.Collections {
		c.Collections[i].Dir = c.Dir
	}
	for i := range c.Cases {
		cd := &c.Cases[i]
		if cd.Role == "" {
			cd.Role = RolePlain
		}
		if cd.Via == "" {
			cd.Via = proto.ViaRaw
		}
		if cd.Collection == "" {
			cd.Collection = proto.Builtin
		}
		if cd.Workload != nil {
			cd.Workload.Dir = c.Dir
		}
		for j := range cd.Args {
			a := &cd.Args[j]
			if a.Expect.Default == "" {
				a.Expect.Default = ExpectMatch
				if a.Value == "any" {
					a.Expect.Default = ExpectIgnore
				}
			}
		}
	}
}

var (
	valueRE  = regexp.MustCompile(`^(-?[0-9]+|0x[0-9a-fA-F]+|fd:/.+|buf:[0-9]+|str:.+|socket:inet|sockaddr:[0-9.]+:[0-9]+|deref:[1-6]|tls|any)$`)
	identRE  = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	cIdentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	vias     = []string{proto.ViaRaw, proto.ViaEffects, proto.ViaGoMmap, proto.ViaGoConnect, proto.ViaGoNetDial}
)

// Validate returns every problem with the catalogue.
func (c *Catalogue) Validate() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.APIVersion != APIVersion {
		add("apiVersion", "is %q, want %q", c.APIVersion, APIVersion)
	}
	validateCollections(c.Collections, add)
	ps = append(ps, validateCases(c.Cases)...)
	return ps
}

// validateCases checks cases; which collections they name is checked
// when catalogues are put together (Matrix.Catalogue).
func validateCases(cases []CaseDef) []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	for i, cd := range cases {
		p := fmt.Sprintf("cases[%d]", i)
		if !nameRE.MatchString(cd.Name) {
			add(p+".name", "%q: use letters, digits, '.', '_' and '-'", cd.Name)
		}
		if seen[cd.Name] {
			add(p+".name", "duplicate case %q", cd.Name)
		}
		seen[cd.Name] = true
		if cd.Workload != nil {
			validateWorkload(p, cd, add)
			continue
		}
		switch {
		case cd.Probe == "" && len(cd.Captures) == 0:
			add(p+".probe", "missing: name the program that reports through ksystest's ring buffer, or give captures")
		case cd.Probe != "" && !identRE.MatchString(cd.Probe):
			add(p+".probe", "%q is not a BPF program name", cd.Probe)
		}
		if cd.Collection != proto.Builtin && !identRE.MatchString(cd.Collection) {
			add(p+".collection", "%q is not a collection name", cd.Collection)
		}
		validateCaptures(p, cd, add)
		if !identRE.MatchString(cd.Syscall) {
			add(p+".syscall", "%q is not a syscall name", cd.Syscall)
		}
		if len(cd.Args) > 6 {
			add(p+".args", "%d arguments; a probe reports at most 6", len(cd.Args))
		}
		passed := 0
		labels := map[string]int{} // canonical label → argument
		for j, a := range cd.Args {
			ap := fmt.Sprintf("%s.args[%d]", p, j)
			if a.Name != "" {
				canon := sysparams.Canon(a.Name)
				if k, ok := labels[canon]; ok {
					add(ap+".name", "%q names what args[%d] (%q) names", a.Name, k, cd.Args[k].Name)
				}
				labels[canon] = j
				if !cIdentRE.MatchString(a.Name) {
					add(ap+".name", "%q: a parameter name, as the kernel writes them (or leave it out for the kernel's)", a.Name)
				}
			}
			if !valueRE.MatchString(string(a.Value)) {
				add(ap+".value", "%q: want a number, 0xHEX, fd:/PATH, buf:N, str:TEXT, socket:inet, sockaddr:IP:PORT, deref:N, tls or any", a.Value)
			} else if msg := checkValue(cd.Args, j); msg != "" {
				add(ap+".value", "%q: %s", a.Value, msg)
			}
			if !strings.HasPrefix(string(a.Value), "deref:") {
				passed++
			}
			a.Expect.validate(ap+".expect", add)
			if cd.Compat && fitsNot32(string(a.Value)) {
				add(ap+".value", "%q does not fit the 32 bits of a compat argument", a.Value)
			}
		}
		if !slices.Contains(vias, cd.Via) {
			add(p+".via", "%q: want one of %s", cd.Via, strings.Join(vias, ", "))
		}
		if cd.Compat && cd.Via != proto.ViaRaw {
			add(p+".compat", "compat cases make raw calls only")
		}
		if cd.Via == proto.ViaEffects && cd.Syscall != "clone" {
			add(p+".via", "ksystest observes the effects of clone only")
		}
		for _, a := range cd.Arches {
			if _, err := arch.Lookup(a); err != nil {
				add(p+".arches", "%v", err)
			}
		}
		for a, order := range cd.Order {
			if _, err := arch.Lookup(a); err != nil {
				add(p+".order", "%v", err)
			}
			if !isPermutation(order, passed) {
				add(p+".order."+a, "%v is not an order of the %d passed arguments (1..%d, each once)", order, passed, passed)
			}
		}
		for _, a := range cd.Pack {
			if _, err := arch.Lookup(a); err != nil {
				add(p+".pack", "%v", err)
			}
		}
		switch cd.Role {
		case RolePlain, RoleNaive, RoleAware:
		default:
			add(p+".role", "%q: want plain, naive or aware", cd.Role)
		}
		if (cd.Role != RolePlain) != (cd.Quirk != "") {
			add(p+".quirk", "naive and aware cases name their quirk; plain cases have none")
		}
		if len(cd.Quirks) > 0 && cd.Role == RoleAware {
			add(p+".quirks", "aware cases predict nothing: they must recover every argument")
		}
		for a, q := range cd.Quirks {
			qp := p + ".quirks." + a
			if _, err := arch.Lookup(a); err != nil {
				add(qp, "%v", err)
			}
			kinds := 0
			if len(q.Swap) > 0 {
				kinds++
				if len(q.Swap) != 2 || q.Swap[0] == q.Swap[1] || !inRange(q.Swap, len(cd.Args)) {
					add(qp+".swap", "%v: want two different argument numbers in 1..%d", q.Swap, len(cd.Args))
				}
			}
			if q.Never {
				kinds++
			}
			if q.Pointer {
				kinds++
			}
			if len(q.Regs) > 0 {
				kinds++
				if len(q.Regs) != len(cd.Args) || !inRange(q.Regs, 6) {
					add(qp+".regs", "%v: want one register number in 1..6 per argument (%d)", q.Regs, len(cd.Args))
				}
			}
			if q.NoLoad {
				kinds++
			}
			if q.WrongRegs {
				kinds++
			}
			if kinds != 1 {
				add(qp, "give exactly one of swap, never, pointer, regs, noload, wrongRegs")
			}
		}
	}
	return ps
}

// maxBuffer is the largest buf:N the agent makes (trigger.ResolveArgs
// holds the same bound; a test holds the two together); maxString bounds
// a str: value with its NUL (trigger.MaxContent).
const (
	maxBuffer = 1 << 20
	maxString = 4096
)

// checkValue says what is wrong with the value of args[i], which has the
// form valueRE allows, as the agent will read it: "" when nothing is. A
// value the agent cannot use must stop the run at load, not fail a case
// in the guest as if the kernel were at fault.
func checkValue(args []ArgDef, i int) string {
	v := string(args[i].Value)
	kind, rest, _ := strings.Cut(v, ":")
	switch {
	case isNumber(v):
		if _, err := parseNumber(v); errors.Is(err, strconv.ErrRange) {
			return "does not fit in 64 bits"
		} else if err != nil {
			return "not a number the agent reads (a leading 0 means octal)"
		}
	case kind == "buf":
		if n, err := strconv.Atoi(rest); err != nil || n < 1 || n > maxBuffer {
			return fmt.Sprintf("a buffer of 1 to %d bytes", maxBuffer)
		}
	case kind == "sockaddr":
		if ap, err := netip.ParseAddrPort(rest); err != nil || !ap.Addr().Is4() {
			return "want sockaddr:IPv4:PORT, the port at most 65535"
		}
	case kind == "deref":
		n, _ := strconv.Atoi(rest)
		if n < 1 || n > len(args) || n == i+1 || strings.HasPrefix(string(args[n-1].Value), "deref:") {
			return fmt.Sprintf("argument %d is not another argument that is passed", n)
		}
	case kind == "fd" && strings.ContainsAny(rest, "\x00\n"):
		return "a path without NUL or newline"
	case kind == "str" && (strings.ContainsRune(rest, 0) || len(rest) >= maxString):
		return fmt.Sprintf("a string of at most %d bytes, without NUL", maxString-1)
	}
	return ""
}

func isNumber(v string) bool { return v != "" && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) }

// parseNumber reads a number as the agent does (trigger.ParseNumber):
// decimal, 0x hex, or negative (passed as its two's complement), in 64
// bits.
func parseNumber(v string) (uint64, error) {
	if strings.HasPrefix(v, "-") {
		n, err := strconv.ParseInt(v, 0, 64)
		return uint64(n), err
	}
	return strconv.ParseUint(v, 0, 64)
}

func fitsNot32(v string) bool {
	if !strings.HasPrefix(v, "0x") && (v == "" || v[0] < '0' || v[0] > '9') {
		return false
	}
	var n uint64
	_, err := fmt.Sscan(v, &n)
	return err == nil && n > 0xffffffff
}

func isPermutation(order []int, n int) bool {
	if len(order) != n {
		return false
	}
	seen := make([]bool, n+1)
	for _, o := range order {
		if o < 1 || o > n || seen[o] {
			return false
		}
		seen[o] = true
	}
	return true
}

func inRange(xs []int, n int) bool {
	for _, x := range xs {
		if x < 1 || x > n {
			return false
		}
	}
	return true
}

// Find returns the named case.
func (c *Catalogue) Find(name string) (CaseDef, bool) {
	for _, cd := range c.Cases {
		if cd.Name == name {
			return cd, true
		}
	}
	return CaseDef{}, false
}

// AppliesTo reports whether the case runs on arch a.
func (cd CaseDef) AppliesTo(a arch.Arch) bool {
	if cd.Compat && a.Compat == nil {
		return false
	}
	if w := cd.Workload; w != nil && len(w.Objects) > 0 {
		if _, ok := w.Objects[a.Name]; !ok {
			return false
		}
	}
	return len(cd.Arches) == 0 || slices.Contains(cd.Arches, a.Name)
}

// For returns the cases that run on arch a.
func (c *Catalogue) For(a arch.Arch) *Catalogue {
	out := &Catalogue{APIVersion: c.APIVersion}
	for _, cd := range c.Cases {
		if cd.AppliesTo(a) {
			out.Cases = append(out.Cases, cd)
		}
	}
	return out
}
