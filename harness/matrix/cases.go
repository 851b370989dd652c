package matrix

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ksystest/ksystest/harness/proto"
)

// Catalogue is a decoded case catalogue (bpf/cases.yaml).
type Catalogue struct {
	APIVersion string    `yaml:"apiVersion"`
	Cases      []CaseDef `yaml:"cases"`
}

// CaseDef is one case: how the agent issues the syscall, which probe
// should see it, and what is expected of each argument.
type CaseDef struct {
	Name    string   `yaml:"name"`
	Probe   string   `yaml:"probe"`
	Syscall string   `yaml:"syscall"`
	Args    []ArgDef `yaml:"args"`
}

// ArgDef is one argument: its value as passed and its expectation.
type ArgDef struct {
	Name  string   `yaml:"name"`
	Value ArgValue `yaml:"value"`
	// Expect is "match" (captured equals passed; the default) or
	// "ignore" (not compared).
	Expect string `yaml:"expect"`
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

// Expectation kinds for an argument.
const (
	ExpectMatch  = "match"
	ExpectIgnore = "ignore"
)

// LoadCatalogue reads and validates a case catalogue.
func LoadCatalogue(file string) (*Catalogue, error) {
	var c Catalogue
	if err := loadFile(file, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ApplyDefaults fills every field left empty.
func (c *Catalogue) ApplyDefaults() {
	for i := range c.Cases {
		for j := range c.Cases[i].Args {
			if c.Cases[i].Args[j].Expect == "" {
				c.Cases[i].Args[j].Expect = ExpectMatch
			}
		}
	}
}

var (
	valueRE = regexp.MustCompile(`^(-?[0-9]+|0x[0-9a-fA-F]+|fd:/.+|buf:[0-9]+)$`)
	identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
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
	seen := map[string]bool{}
	for i, cd := range c.Cases {
		p := fmt.Sprintf("cases[%d]", i)
		if !nameRE.MatchString(cd.Name) {
			add(p+".name", "%q: use letters, digits, '.', '_' and '-'", cd.Name)
		}
		if seen[cd.Name] {
			add(p+".name", "duplicate case %q", cd.Name)
		}
		seen[cd.Name] = true
		if !identRE.MatchString(cd.Probe) {
			add(p+".probe", "%q is not a BPF program name", cd.Probe)
		}
		if !identRE.MatchString(cd.Syscall) {
			add(p+".syscall", "%q is not a syscall name", cd.Syscall)
		}
		if len(cd.Args) > 6 {
			add(p+".args", "%d arguments; syscalls take at most 6", len(cd.Args))
		}
		for j, a := range cd.Args {
			ap := fmt.Sprintf("%s.args[%d]", p, j)
			if !valueRE.MatchString(string(a.Value)) {
				add(ap+".value", "%q: want a number, 0xHEX, fd:/PATH or buf:N", a.Value)
			}
			if a.Expect != ExpectMatch && a.Expect != ExpectIgnore {
				add(ap+".expect", "%q: want match or ignore", a.Expect)
			}
		}
	}
	return ps
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

// Proto is the catalogue as the agent reads it.
func (c *Catalogue) Proto() proto.Catalogue {
	out := proto.Catalogue{Version: proto.Version}
	for _, cd := range c.Cases {
		pc := proto.Case{Name: cd.Name, Probe: cd.Probe, Syscall: cd.Syscall}
		for _, a := range cd.Args {
			pc.Args = append(pc.Args, proto.Arg{Name: a.Name, Value: string(a.Value)})
		}
		out.Cases = append(out.Cases, pc)
	}
	return out
}
