package matrix

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/proto"
)

// CollectionDef is a user's BPF object: a source compiled per target
// arch, or prebuilt objects per arch (bpf2go's output). It loads in the
// guest on its own, beside ksystest's probes, with its own license, maps
// and globals.
type CollectionDef struct {
	Name string `yaml:"name"`
	// Source is a .bpf.c file; Includes, Defines and CFlags go to clang
	// with the arch's -target and -D__TARGET_ARCH_*.
	Source   string            `yaml:"source"`
	Includes []string          `yaml:"includes"`
	Defines  map[string]string `yaml:"defines"`
	CFlags   []string          `yaml:"cflags"`
	// VmlinuxH puts a vmlinux.h for the target kernel (dumped from its
	// BTF) on the include path; unset means: when the source names it.
	VmlinuxH *bool `yaml:"vmlinuxH"`
	// Objects are prebuilt objects by arch (instead of Source).
	Objects map[string]string `yaml:"objects"`
	// Constants set .rodata (const volatile) globals before loading: a
	// number, or ${pid} / ${tid} of the thread making the cases' calls.
	Constants map[string]ArgValue `yaml:"constants"`
	// Loaders load the collection in the guest, each on its own: every
	// case of the collection runs once per loader (NAME@LOADER). Default:
	// the matrix's loaders, else DefaultLoaders.
	Loaders []string `yaml:"loaders"`
	// LoadFails are targets where a loader is known to refuse the
	// collection (not load it, or not attach it): there its cases must
	// fail to load, and say why; where it loads after all, they fail.
	LoadFails []LoadFail `yaml:"loadFails"`

	// Dir is the directory the file declaring the collection is in: its
	// paths are relative to it.
	Dir string `yaml:"-"`
}

// LoadFail says that a loader refuses a collection on some targets, and
// why.
type LoadFail struct {
	Loader string `yaml:"loader"`
	// Targets are target names or patterns (path.Match: arm-*).
	Targets []string `yaml:"targets"`
	Why     string   `yaml:"why"`
}

// LoaderLibbpf names the newest libbpf Debian ships for a target's arch
// (libbpf-1.5, or libbpf-1.1 where trixie has none: mips64el).
const LoaderLibbpf = "libbpf"

// Loaders users' collections can name.
var Loaders = []string{proto.LoaderCiliumEBPF, LoaderLibbpf, proto.LoaderLibbpf11, proto.LoaderLibbpf15, proto.LoaderKsystest}

// DefaultLoaders load a user's collection when neither it nor the matrix
// names loaders: cilium/ebpf as it ships, and libbpf.
var DefaultLoaders = []string{proto.LoaderCiliumEBPF, LoaderLibbpf}

// loadsWith reports whether loaders include l, a libbpf version counting
// as "libbpf" and the other way round.
func loadsWith(loaders []string, l string) bool {
	return slices.ContainsFunc(loaders, func(x string) bool {
		return x == l || (x == LoaderLibbpf && proto.IsLibbpf(l)) || (l == LoaderLibbpf && proto.IsLibbpf(x))
	})
}

// loaderOn is the loader name l stands for on arch a ("libbpf": the
// newest Debian libbpf for a), and whether a can run it at all.
func loaderOn(l string, a arch.Arch) (string, bool) {
	switch {
	case l == LoaderLibbpf && len(a.Libbpf) > 0:
		return "libbpf-" + a.Libbpf[len(a.Libbpf)-1], true
	case l == LoaderLibbpf:
		return l, false
	case proto.IsLibbpf(l):
		return l, slices.Contains(a.Libbpf, proto.LibbpfVersion(l))
	}
	return l, true
}

// CollectionKey names a collection as loaded by one loader, in the guest
// and in case names: NAME@LOADER.
func CollectionKey(name, loader string) string {
	if loader == "" || name == proto.Builtin {
		return name
	}
	return name + "@" + loader
}

// refusal is why loader is declared to refuse the collection on target
// ("" when it is not).
func (c CollectionDef) refusal(loader, target string) (string, bool) {
	for _, f := range c.LoadFails {
		if f.Loader != loader && !(f.Loader == LoaderLibbpf && proto.IsLibbpf(loader)) {
			continue
		}
		for _, pat := range f.Targets {
			if ok, _ := path.Match(pat, target); ok {
				return f.Why, true
			}
		}
	}
	return "", false
}

// SourcePath, IncludePaths and ObjectPath resolve the collection's paths.
func (c CollectionDef) SourcePath() string { return c.resolve(c.Source) }

// IncludePaths are the include directories, resolved.
func (c CollectionDef) IncludePaths() []string {
	var out []string
	for _, p := range c.Includes {
		out = append(out, c.resolve(p))
	}
	return out
}

// ObjectPath is the prebuilt object for arch a ("" when none).
func (c CollectionDef) ObjectPath(a string) string {
	if p, ok := c.Objects[a]; ok {
		return c.resolve(p)
	}
	return ""
}

func (c CollectionDef) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// CaptureDef is one set of readings of a call, from where a user's
// program put them: its global variables, a map, ksystest's ring buffer
// (ksystest.h's ksystest_emit_set), or the records it writes to a ring
// buffer or perf event array of its own (Events). A case may have
// several: each is checked and shown on its own.
type CaptureDef struct {
	Name string `yaml:"name"`
	// Program is the BPF program that records this set: it is attached
	// for the case, and its run count tells "never ran" from "ran and
	// recorded nothing".
	Program string `yaml:"program"`
	// Programs are more programs attached for the set: an exit program
	// (kretsyscall/) that completes the record its entry program began.
	Programs []string `yaml:"programs"`
	// Emit reads the set from the ring buffer rows with this set number,
	// instead of from Args' globals and maps.
	Emit *int `yaml:"emit"`
	// Events is the collection's ring buffer or perf event array the
	// program writes its records to, and Record the struct a record is
	// (by its name in the object's BTF); each argument is then a field of
	// it. TID or PID names the field holding the thread or the process
	// that made the call, which ties a record to its call; without
	// either, records are tied to calls by their order.
	Events string `yaml:"events"`
	Record string `yaml:"record"`
	TID    string `yaml:"tid"`
	PID    string `yaml:"pid"`
	// Select keeps the records whose fields hold these numbers: where the
	// program writes several kinds of record to one map, the kind this
	// set reads ({op: 1}).
	Select map[string]ArgValue `yaml:"select"`
	// Args say where each of the case's arguments is read from, in the
	// case's order.
	Args []CaptureArg `yaml:"args"`
}

// proto is the set as the agent reads it.
func (c CaptureDef) proto() proto.Capture {
	pc := proto.Capture{Name: c.Name, Program: c.Program, Programs: c.Programs, Emit: c.Emit,
		Events: c.Events, Record: c.Record, TID: c.TID, PID: c.PID}
	for f, v := range c.Select {
		if pc.Select == nil {
			pc.Select = map[string]uint64{}
		}
		pc.Select[f], _ = parseNumber(string(v)) // validated
	}
	for _, ca := range c.Args {
		pc.Args = append(pc.Args, proto.CaptureArg{Global: ca.Global, Map: ca.Map, Key: string(ca.Key), Offset: ca.Offset, Size: ca.Size, Field: ca.Field})
	}
	return pc
}

// AllPrograms lists the programs the set attaches: Program, then
// Programs.
func (c CaptureDef) AllPrograms() []string {
	return append([]string{c.Program}, c.Programs...)
}

// CaptureArg is where one argument's reading is: a global variable, the
// value of a map at a key (at Offset, Size bytes; default the whole value
// up to 8 bytes), or a field of the set's records (Events: path,
// addr.sin_port, args[2]). With Emit, only Expect is used. A global or a
// field that is an array or a struct is content: compared with what the
// argument pointed to (str:, sockaddr:, buf:).
type CaptureArg struct {
	Global string   `yaml:"global"`
	Map    string   `yaml:"map"`
	Key    ArgValue `yaml:"key"`
	Offset int      `yaml:"offset"`
	Size   int      `yaml:"size"`
	Field  string   `yaml:"field"`
	Expect Expect   `yaml:"expect"`
}

// Expect is what is expected of an argument: match (the default), ignore,
// or differ (must not equal the value passed: how libbpf's own tests
// check that a naive reading is wrong), per arch where that differs:
// "differ", or {default: match, arm64: differ, s390x: differ}.
type Expect struct {
	Default string
	Arches  map[string]string
}

// Expectations.
const (
	ExpectMatch  = "match"
	ExpectIgnore = "ignore"
	ExpectDiffer = "differ"
)

// UnmarshalYAML takes a word or a mapping of arch (or default) to word.
func (e *Expect) UnmarshalYAML(b []byte) error {
	s := strings.TrimSpace(string(b))
	if !strings.HasPrefix(s, "{") && !strings.Contains(s, ":") {
		e.Default = strings.Trim(s, `"'`)
		return nil
	}
	var m map[string]string
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("expect: want match, ignore or differ, or a mapping of arch to one of them: %w", err)
	}
	e.Default, e.Arches = m["default"], map[string]string{}
	for k, v := range m {
		if k != "default" {
			e.Arches[k] = v
		}
	}
	return nil
}

// For is the expectation on arch a.
func (e Expect) For(a string) string {
	if v, ok := e.Arches[a]; ok {
		return v
	}
	if e.Default == "" {
		return ExpectMatch
	}
	return e.Default
}

// String is the expectation as written.
func (e Expect) String() string {
	if len(e.Arches) == 0 {
		return e.For("")
	}
	var parts []string
	for _, a := range mapsKeys(e.Arches) {
		parts = append(parts, a+": "+e.Arches[a])
	}
	return fmt.Sprintf("{default: %s, %s}", e.For(""), strings.Join(parts, ", "))
}

func mapsKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (e Expect) validate(path string, add func(path, format string, args ...any)) {
	check := func(p, v string) {
		switch v {
		case "", ExpectMatch, ExpectIgnore, ExpectDiffer:
		default:
			add(p, "%q: want match, ignore or differ", v)
		}
	}
	check(path, e.Default)
	for a, v := range e.Arches {
		if _, err := arch.Lookup(a); err != nil {
			add(path+"."+a, "%v", err)
		}
		check(path+"."+a, v)
	}
}

// fieldRE is a field path of a record: members and array indexes.
var fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])*)*$`)

var placeholderRE = regexp.MustCompile(`^(-?[0-9]+|0x[0-9a-fA-F]+|\$\{pid\}|\$\{tid\})$`)

// checkPlaceholder says what is wrong with a constant or a map key: ""
// when it is a number of 64 bits, ${pid} or ${tid}.
func checkPlaceholder(v string) string {
	if !placeholderRE.MatchString(v) {
		return "want a number, ${pid} or ${tid}"
	}
	if _, err := parseNumber(v); isNumber(v) && err != nil {
		return "does not fit in 64 bits"
	}
	return ""
}

// validateCollections checks the collections of a file; names are
// unique and none is ksystest's own.
func validateCollections(cols []CollectionDef, add func(path, format string, args ...any)) {
	seen := map[string]bool{proto.Builtin: true}
	for i, c := range cols {
		p := fmt.Sprintf("collections[%d]", i)
		switch {
		case !identRE.MatchString(c.Name):
			add(p+".name", "%q: use lower-case letters, digits and _", c.Name)
		case seen[c.Name]:
			add(p+".name", "%q is taken (ksystest's own probes are %q)", c.Name, proto.Builtin)
		}
		seen[c.Name] = true
		checkPath(p+".source", c.Source, add)
		for j, inc := range c.Includes {
			checkPath(fmt.Sprintf("%s.includes[%d]", p, j), inc, add)
		}
		for a, obj := range c.Objects {
			checkPath(p+".objects."+a, obj, add)
		}
		if (c.Source == "") == (len(c.Objects) == 0) {
			add(p, "give source (compiled for each target's arch) or objects (prebuilt, by arch), not both")
		}
		for a := range c.Objects {
			if _, err := arch.Lookup(a); err != nil {
				add(p+".objects", "%v", err)
			}
		}
		if len(c.Objects) > 0 && (len(c.Includes) > 0 || len(c.Defines) > 0 || len(c.CFlags) > 0 || c.VmlinuxH != nil) {
			add(p, "includes, defines, cflags and vmlinuxH go with source")
		}
		validateLoaders(p, c, add)
		for name, v := range c.Constants {
			if !identRE.MatchString(name) {
				add(p+".constants", "%q is not a C identifier", name)
			}
			if msg := checkPlaceholder(string(v)); msg != "" {
				add(p+".constants."+name, "%q: %s", v, msg)
			}
		}
	}
}

// validateLoaderList checks a list of loaders at path.
func validateLoaderList(path string, loaders []string, add func(path, format string, args ...any)) {
	seen := map[string]bool{}
	for i, l := range loaders {
		lp := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !slices.Contains(Loaders, l):
			add(lp, "%q: want one of %s", l, strings.Join(Loaders, ", "))
		case seen[l]:
			add(lp, "%q twice", l)
		}
		seen[l] = true
	}
}

// validateLoaders checks a collection's loaders and declared refusals.
func validateLoaders(p string, c CollectionDef, add func(path, format string, args ...any)) {
	validateLoaderList(p+".loaders", c.Loaders, add)
	for i, f := range c.LoadFails {
		fp := fmt.Sprintf("%s.loadFails[%d]", p, i)
		if !slices.Contains(Loaders, f.Loader) {
			add(fp+".loader", "%q: want one of %s", f.Loader, strings.Join(Loaders, ", "))
		} else if len(c.Loaders) > 0 && !loadsWith(c.Loaders, f.Loader) {
			add(fp+".loader", "%q does not load this collection (loaders: %s)", f.Loader, strings.Join(c.Loaders, ", "))
		}
		if len(f.Targets) == 0 {
			add(fp+".targets", "name the targets (or patterns, such as arm-*) where the loader refuses the collection")
		}
		for j, t := range f.Targets {
			if _, err := path.Match(t, ""); err != nil || t == "" {
				add(fmt.Sprintf("%s.targets[%d]", fp, j), "%q: want a target name or a pattern such as arm-*", t)
			}
		}
		if strings.TrimSpace(f.Why) == "" {
			add(fp+".why", "say why the loader refuses it there: the report shows it")
		}
	}
}

// validateCaptures checks a case's capture sets.
func validateCaptures(p string, cd CaseDef, add func(path, format string, args ...any)) {
	names := map[string]bool{}
	for i, c := range cd.Captures {
		cp := fmt.Sprintf("%s.captures[%d]", p, i)
		if !nameRE.MatchString(c.Name) {
			add(cp+".name", "%q: use letters, digits, '.', '_' and '-'", c.Name)
		}
		if names[c.Name] {
			add(cp+".name", "duplicate capture set %q", c.Name)
		}
		names[c.Name] = true
		if !identRE.MatchString(c.Program) {
			add(cp+".program", "%q: name the BPF program that records this set", c.Program)
		}
		for j, pr := range c.Programs {
			if !identRE.MatchString(pr) || pr == c.Program || slices.Index(c.Programs, pr) != j {
				add(fmt.Sprintf("%s.programs[%d]", cp, j), "%q: name another BPF program, once", pr)
			}
		}
		if c.Emit != nil && (*c.Emit < 0 || *c.Emit > 255) {
			add(cp+".emit", "%d: a set number is 0..255", *c.Emit)
		}
		records := c.Events != ""
		switch {
		case records && c.Emit != nil:
			add(cp+".events", "a set reads the program's own records (events) or ksystest's ring buffer (emit), not both")
		case records && !cIdentRE.MatchString(c.Events):
			add(cp+".events", "%q: name the program's ring buffer or perf event array", c.Events)
		case records && !cIdentRE.MatchString(c.Record):
			add(cp+".record", "%q: name the struct of its records (struct event: event)", c.Record)
		case !records && (c.Record != "" || c.TID != "" || c.PID != "" || len(c.Select) > 0):
			add(cp, "record, tid, pid and select go with events")
		}
		for f, v := range c.Select {
			if !fieldRE.MatchString(f) {
				add(cp+".select", "%q: a field of the record (name, name.member, name[N])", f)
			}
			if _, err := parseNumber(string(v)); !isNumber(string(v)) || err != nil {
				add(cp+".select."+f, "%q: want a number", v)
			}
		}
		if c.TID != "" && c.PID != "" {
			add(cp, "name the thread's field (tid) or the process's (pid), not both")
		}
		for _, kf := range [][2]string{{"tid", c.TID}, {"pid", c.PID}} {
			if kf[1] != "" && !fieldRE.MatchString(kf[1]) {
				add(cp+"."+kf[0], "%q: a field of the record (name, name.member, name[N])", kf[1])
			}
		}
		if len(c.Args) != len(cd.Args) {
			add(cp+".args", "%d readings for the case's %d arguments", len(c.Args), len(cd.Args))
		}
		for j, a := range c.Args {
			ap := fmt.Sprintf("%s.args[%d]", cp, j)
			a.Expect.validate(ap+".expect", add)
			from := 0
			if a.Global != "" {
				from++
				if !identRE.MatchString(a.Global) {
					add(ap+".global", "%q is not a C identifier", a.Global)
				}
			}
			if a.Map != "" {
				from++
				if msg := checkPlaceholder(string(a.Key)); msg != "" {
					add(ap+".key", "%q: %s", a.Key, msg)
				}
			}
			if a.Field != "" {
				if !fieldRE.MatchString(a.Field) {
					add(ap+".field", "%q: a field of the record (name, name.member, name[N])", a.Field)
				}
				if !records {
					add(ap+".field", "a field is read from the records the program writes: give the set events and record")
				}
			}
			switch {
			case c.Emit != nil && from > 0:
				add(ap, "a set read from the ring buffer takes no global or map")
			case records && from > 0:
				add(ap, "a set read from the program's records takes fields, not globals or maps")
			case records && a.Field == "" && a.Expect.For("") != ExpectIgnore:
				add(ap, "give field (or expect: ignore)")
			case c.Emit == nil && !records && from != 1 && a.Expect.For("") != ExpectIgnore:
				add(ap, "give global or map (or expect: ignore)")
			}
			if a.Offset < 0 || a.Size < 0 || a.Size > 8 || (a.Size != 0 && a.Size&(a.Size-1) != 0) {
				add(ap, "offset %d, size %d: want a size of 1, 2, 4 or 8 bytes", a.Offset, a.Size)
			}
		}
	}
}
