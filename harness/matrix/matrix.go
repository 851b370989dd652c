// Package matrix reads matrix.yaml (which targets to boot) and the case
// catalogue it names (which syscalls to check), strictly: unknown keys and
// wrong types are errors with file and line, and Validate reports every
// problem at once. Defaults live in ApplyDefaults only. It imports arch and
// proto, nothing that boots or fetches.
package matrix

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/internal/yamlfile"
)

// APIVersion is the matrix.yaml and catalogue format this build reads.
const APIVersion = yamlfile.APIVersion

// Matrix is a decoded matrix.yaml, or a user's ksystest.yaml: the
// targets to boot, the case catalogues to run on them, and cases and BPF
// collections of its own.
type Matrix struct {
	APIVersion string  `yaml:"apiVersion"`
	Targets    Targets `yaml:"targets"`
	// Catalogues are case catalogue files (relative to this file), or
	// "builtin" for ksystest's own cases. Default: builtin, when the file
	// has no cases of its own.
	Catalogues []string `yaml:"catalogues"`
	// Collections and Cases are a catalogue inline.
	Collections []CollectionDef `yaml:"collections"`
	Cases       []CaseDef       `yaml:"cases"`
	// Lock is the kernel lock file (images/kernels.lock) that pins the
	// exact kernel each target boots; empty follows the suites, or, with
	// targets: default, pins them by ksystest's own lock. Written by
	// ksystest lock.
	Lock string `yaml:"lock"`
	// Loaders load every user collection that names none of its own
	// (default: DefaultLoaders).
	Loaders []string `yaml:"loaders"`

	// File is where the matrix was read from, as the user named it.
	File string `yaml:"-"`
	src  source
	lock source
	// builtin holds ksystest's own files ("builtin" catalogue, "default"
	// targets).
	builtin fs.FS
}

// Targets are a matrix's targets: listed, or taken from another matrix
// by name ("default": ksystest's default matrix).
type Targets struct {
	From string
	List []Target
}

// UnmarshalYAML takes a name or a list of targets.
func (t *Targets) UnmarshalYAML(unmarshal func(any) error) error {
	var name string
	if err := unmarshal(&name); err == nil {
		t.From = name
		return nil
	}
	return unmarshal(&t.List)
}

// BuiltinCatalogue names ksystest's own case catalogue in Catalogues;
// BuiltinWorkloadsCatalogue its workload cases (with ksystest's programs
// and probes: use it beside BuiltinCatalogue).
const (
	BuiltinCatalogue          = "builtin"
	BuiltinWorkloadsCatalogue = "builtin-workloads"
)

// DefaultTargets names ksystest's default matrix in Targets.
const DefaultTargets = "default"

// BuiltinMatrix and BuiltinCases are ksystest's own files in the fs.FS a
// loader is given.
const (
	BuiltinMatrix    = "matrix.yaml"
	BuiltinCases     = "bpf/cases.yaml"
	BuiltinWorkloads = "bpf/workloads.yaml"
)

// Target is one guest to boot.
type Target struct {
	Name   string `yaml:"name"`
	Arch   string `yaml:"arch"`
	Kernel Kernel `yaml:"kernel"`
	// SyscallWrapper declares whether the kernel has
	// CONFIG_ARCH_HAS_SYSCALL_WRAPPER. Required: a matrix says what it
	// expects, and ksystest checks it.
	SyscallWrapper *bool `yaml:"syscallWrapper"`
	// MemoryMB is the guest's memory: default 512 for cells, and
	// DefaultExecMemoryMB for exec guests (ExecMemoryMB).
	MemoryMB int `yaml:"memoryMB"`
	// memorySet says the matrix gave MemoryMB.
	memorySet bool
	// CPUs is how many CPUs the target's exec guests have (default
	// DefaultExecCPUs): multi-CPU tests run there. Cells run on one: the
	// agent reads its probes' reports as one ordered stream.
	CPUs int `yaml:"cpus"`
	// Modules are kernel modules the target's exec guests load before the
	// program, by name, from the kernel's own package.
	Modules []string `yaml:"modules"`
	// BootTimeout bounds QEMU start to agent start before emulation
	// slowdown is applied; default from the arch.
	BootTimeout Duration `yaml:"bootTimeout"`
	// BTF is a BTF file to load probes against instead of the kernel's
	// own (or of one generated from its -dbg package); relative to the
	// matrix file.
	BTF string `yaml:"btf"`
}

// Kernel names a kernel of Debian's archive or Ubuntu's: a package, or a
// flavour whose metapackage (linux-image-FLAVOUR) points at one; or a
// kernel on local disk.
type Kernel struct {
	// Distro is whose archive: debian (the default) or ubuntu.
	Distro  string       `yaml:"distro"`
	Suite   string       `yaml:"suite"`
	Package string       `yaml:"package"`
	Flavour string       `yaml:"flavour"`
	Local   *LocalKernel `yaml:"local"`
}

// LocalKernel is a kernel built or kept outside Debian's archive (older
// than the syscall wrapper, say). Paths are relative to the matrix file.
type LocalKernel struct {
	// Vmlinuz is the image QEMU boots (bzImage, Image, zImage).
	Vmlinuz string `yaml:"vmlinuz"`
	// Config is its .config: ksystest reads the wrapper and BTF options.
	Config string `yaml:"config"`
	// Vmlinux, when given, is booted instead on arches that can (x86 PVH).
	Vmlinux string `yaml:"vmlinux"`
}

// Duration is a time.Duration written as "90s" in YAML.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a form like 90s or 2m", b)
	}
	*d = Duration(v)
	return nil
}

// Load reads, defaults and validates a matrix file; builtin holds
// ksystest's own files (the ksystest package's Data), for "builtin"
// catalogues and "default" targets.
func Load(file string, builtin fs.FS) (*Matrix, error) {
	return load(diskFS(file), builtin)
}

// LoadBuiltin is ksystest's default matrix.
func LoadBuiltin(builtin fs.FS) (*Matrix, error) {
	return load(builtinFS(builtin, BuiltinMatrix), builtin)
}

func load(src source, builtin fs.FS) (*Matrix, error) {
	m := Matrix{File: src.display, src: src, builtin: builtin}
	if err := loadFile(src, &m); err != nil {
		return nil, err
	}
	if m.Targets.From == DefaultTargets {
		def, err := LoadBuiltin(builtin)
		if err != nil {
			return nil, fmt.Errorf("the default targets: %w", err)
		}
		m.Targets.List = def.Targets.List
		if m.Lock == "" && def.Lock != "" {
			m.lock = builtinFS(builtin, def.Lock)
		}
	}
	if m.Lock != "" {
		m.lock = src.sibling(m.Lock)
	}
	return &m, nil
}

// LockFile is a kernel lock's place: a file on disk, or ksystest's own.
type LockFile struct {
	// Name is how messages name it.
	Name string
	// Disk is its path on disk; empty for ksystest's own lock, carried
	// in the binary, which ksystest lock cannot write.
	Disk string
	src  source
}

// Read returns the lock's contents.
func (l LockFile) Read() ([]byte, error) { return yamlfile.Read(l.src.fsys, l.src.name) }

// LockFile is the kernel lock that pins m's targets: the one m names, or
// ksystest's own for targets: default; ok is false when there is none.
func (m *Matrix) LockFile() (l LockFile, ok bool) {
	if m.lock.fsys == nil {
		return LockFile{}, false
	}
	return LockFile{Name: m.lock.display, Disk: m.lock.path(), src: m.lock}, true
}

// ApplyDefaults fills every field left empty. It is the only place
// defaults live.
func (m *Matrix) ApplyDefaults() {
	if len(m.Catalogues) == 0 && len(m.Cases) == 0 {
		m.Catalogues = []string{BuiltinCatalogue}
	}
	for i := range m.Collections {
		m.Collections[i].Dir = m.src.dir()
	}
	inline := Catalogue{Collections: m.Collections, Cases: m.Cases, Dir: m.src.dir()}
	inline.ApplyDefaults()
	for i := range m.Targets.List {
		t := &m.Targets.List[i]
		if t.Name == "" {
			t.Name = t.Arch + "-" + t.Kernel.Suite
		}
		t.memorySet = t.MemoryMB != 0
		if t.MemoryMB == 0 {
			t.MemoryMB = 512
		}
		if t.CPUs == 0 {
			t.CPUs = DefaultExecCPUs
		}
		t.BTF = m.Path(t.BTF)
		if t.BootTimeout == 0 {
			t.BootTimeout = Duration(60 * time.Second)
		}
		if t.Kernel.Distro == "" && t.Kernel.Local == nil {
			t.Kernel.Distro = DistroDebian
		}
		a, err := arch.Lookup(t.Arch)
		if err == nil && t.Kernel.Package == "" && t.Kernel.Flavour == "" && t.Kernel.Local == nil {
			t.Kernel.Flavour = a.KernelFlavour
			if t.Kernel.Distro == DistroUbuntu {
				t.Kernel.Flavour = UbuntuFlavour
			}
		}
		if l := t.Kernel.Local; l != nil {
			l.Vmlinuz, l.Config, l.Vmlinux = m.Path(l.Vmlinuz), m.Path(l.Config), m.Path(l.Vmlinux)
			if t.Name == t.Arch+"-" {
				t.Name = t.Arch + "-local"
			}
		}
	}
}

// The distros a kernel comes from (harness/archive knows their archives).
const (
	DistroDebian = "debian"
	DistroUbuntu = "ubuntu"
	// UbuntuFlavour is the flavour of Ubuntu's kernels a target follows
	// unless it names one: linux-image-generic, for every arch.
	UbuntuFlavour = "generic"
)

// Distros are the distros a target's kernel may come from.
var Distros = []string{DistroDebian, DistroUbuntu}

// ubuntuArches are the arches of Ubuntu's archive proper; its other
// arches are in another archive (ports), which ksystest does not read.
var ubuntuArches = []string{"amd64", "i386"}

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// A suite, package or flavour becomes cache paths and mirror URLs:
	// "../../tmp/x" must stop here (harness/archive checks them again, as
	// strictly).
	suiteRE   = regexp.MustCompile(`^[a-z][a-z0-9.-]*$`)
	packageRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*$`)
)

// ModuleName says whether s can name a kernel module: letters, digits,
// '_' and '-' (which the kernel reads as '_'), at most 64.
func ModuleName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// DefaultExecCPUs is how many CPUs an exec guest has unless its target
// says otherwise: enough for tests that need two (cilium/ebpf's skip or
// fail below GOMAXPROCS 2), no more than a small host's cores.
const DefaultExecCPUs = 2

// DefaultExecMemoryMB is an exec guest's memory unless its target says
// otherwise: a test that runs the go command in the guest (bpf2go's
// build for three arches) is killed for want of memory in 512 MiB, and
// /tmp, a tmpfs of half the memory, fills up.
const DefaultExecMemoryMB = 1024

// ExecMemoryMB is the memory of t's exec guests: its memoryMB if the
// matrix gives one, else DefaultExecMemoryMB.
func (t Target) ExecMemoryMB() int {
	if t.memorySet {
		return t.MemoryMB
	}
	return DefaultExecMemoryMB
}

// MaxCPUs bounds a guest's CPUs (QEMU's machines take more; TCG gains
// nothing past the host's cores).
const MaxCPUs = 16

// maxMemoryMB bounds a guest's memory: far more than a test guest needs.
const maxMemoryMB = 1 << 20

// checkPath checks a path a config file gives (empty: none given): a
// path on this host, free of what no file name holds.
func checkPath(path, p string, add func(path, format string, args ...any)) {
	switch {
	case len(p) > 4096:
		add(path, "a path of %d bytes; at most 4096", len(p))
	case strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }):
		add(path, "%q: a path without control characters", p)
	}
}

// Validate returns every problem with the matrix, each with its YAML path.
func (m *Matrix) Validate() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if m.APIVersion != APIVersion {
		add("apiVersion", "is %q, want %q", m.APIVersion, APIVersion)
	}
	switch {
	case m.Targets.From != "" && m.Targets.From != DefaultTargets:
		add("targets", "%q: want a list of targets, or %q (ksystest's default matrix)", m.Targets.From, DefaultTargets)
	case m.Targets.From == "" && len(m.Targets.List) == 0:
		add("targets", "no targets")
	}
	for i, c := range m.Catalogues {
		if c == "" {
			add(fmt.Sprintf("catalogues[%d]", i), "empty: a catalogue file, or %q", BuiltinCatalogue)
		}
		checkPath(fmt.Sprintf("catalogues[%d]", i), c, add)
	}
	checkPath("lock", m.Lock, add)
	validateLoaderList("loaders", m.Loaders, add)
	validateCollections(m.Collections, add)
	ps = append(ps, validateCases(m.Cases)...)
	// ksystest lock writes the lock: it must not be a file the matrix
	// needs.
	if m.Lock != "" && m.src.disk != "" {
		lock := filepath.Clean(m.Path(m.Lock))
		clash := []string{filepath.Join(m.src.disk, m.src.name)}
		for _, c := range m.Catalogues {
			if c != BuiltinCatalogue {
				clash = append(clash, filepath.Clean(m.Path(c)))
			}
		}
		for _, c := range clash {
			if lock == c {
				add("lock", "%q is the matrix or one of its catalogues, which ksystest lock would overwrite: "+
					"name a file of its own (images/kernels.lock)", m.Lock)
			}
		}
	}
	seen := map[string]int{}
	for i, t := range m.Targets.List {
		p := fmt.Sprintf("targets[%d]", i)
		a, err := arch.Lookup(t.Arch)
		if err != nil {
			add(p+".arch", "%v", err)
		}
		distro := t.Kernel.Distro
		switch {
		case distro == "" || t.Kernel.Local != nil:
		case !slices.Contains(Distros, distro):
			add(p+".kernel.distro", "%q: want %s", distro, strings.Join(Distros, " or "))
		case distro == DistroUbuntu && err == nil && !slices.Contains(ubuntuArches, a.DebianArch):
			add(p+".kernel.distro", "ubuntu: ksystest reads Ubuntu's archive for x86_64 and i386 only, not %s (Ubuntu keeps it in its ports archive)", t.Arch)
		}
		if distro == "" {
			distro = DistroDebian
		}
		switch l := t.Kernel.Local; {
		case l != nil:
			if t.Kernel.Distro != "" || t.Kernel.Suite != "" || t.Kernel.Package != "" || t.Kernel.Flavour != "" {
				add(p+".kernel.local", "a local kernel takes no suite, package, flavour or distro")
			}
			if l.Vmlinuz == "" {
				add(p+".kernel.local.vmlinuz", "missing: the kernel image to boot")
			}
			if l.Config == "" {
				add(p+".kernel.local.config", "missing: the kernel's .config (ksystest reads the wrapper and BTF options)")
			}
		case t.Kernel.Suite == "" && distro == DistroUbuntu:
			add(p+".kernel.suite", "missing: which Ubuntu suite (focal-updates, jammy-updates, noble-updates, …)")
		case t.Kernel.Suite == "":
			add(p+".kernel.suite", "missing: which Debian suite (bookworm, bookworm-backports, …)")
		}
		if t.Kernel.Package != "" && t.Kernel.Flavour != "" {
			add(p+".kernel", "give package or flavour, not both")
		}
		if t.Kernel.Package != "" && !strings.HasPrefix(t.Kernel.Package, "linux-image-") {
			add(p+".kernel.package", "%q is not a linux-image-* package", t.Kernel.Package)
		}
		if t.SyscallWrapper == nil {
			add(p+".syscallWrapper", "missing: declare whether the kernel has CONFIG_ARCH_HAS_SYSCALL_WRAPPER")
		}
		if t.Name != "" && !nameRE.MatchString(t.Name) {
			add(p+".name", "%q: use letters, digits, '.', '_' and '-'", t.Name)
		}
		if j, dup := seen[t.Name]; dup {
			add(p+".name", "%q already names targets[%d]", t.Name, j)
		}
		seen[t.Name] = i
		switch {
		case t.MemoryMB < 128:
			add(p+".memoryMB", "%d is too little to boot; use at least 128", t.MemoryMB)
		case t.MemoryMB > maxMemoryMB:
			add(p+".memoryMB", "%d: a guest gets at most %d", t.MemoryMB, maxMemoryMB)
		}
		if t.BootTimeout <= 0 {
			add(p+".bootTimeout", "%s: want a positive duration such as 90s", time.Duration(t.BootTimeout))
		}
		if t.CPUs < 1 || t.CPUs > MaxCPUs {
			add(p+".cpus", "%d: want 1 to %d", t.CPUs, MaxCPUs)
		}
		for j, m := range t.Modules {
			if !ModuleName(m) {
				add(fmt.Sprintf("%s.modules[%d]", p, j), "%q is not a kernel module's name", m)
			}
		}
		for _, n := range []struct {
			key, name string
			re        *regexp.Regexp
		}{{"suite", t.Kernel.Suite, suiteRE}, {"package", t.Kernel.Package, packageRE}, {"flavour", t.Kernel.Flavour, packageRE}} {
			if n.name != "" && (len(n.name) > 255 || !n.re.MatchString(n.name)) {
				add(p+".kernel."+n.key, "%q is not a Debian %s name", n.name, n.key)
			}
		}
		checkPath(p+".btf", t.BTF, add)
		if l := t.Kernel.Local; l != nil {
			checkPath(p+".kernel.local.vmlinuz", l.Vmlinuz, add)
			checkPath(p+".kernel.local.config", l.Config, add)
			checkPath(p+".kernel.local.vmlinux", l.Vmlinux, add)
		}
	}
	return ps
}

// Path resolves a path written in the matrix against its directory.
func (m *Matrix) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || m.src.disk == "" {
		return p
	}
	return filepath.Join(m.src.disk, p)
}

// Catalogue assembles every case the matrix runs, from its catalogues
// and its own cases, with their collections: names are unique across all
// of them.
func (m *Matrix) Catalogue() (*Catalogue, error) {
	out := &Catalogue{APIVersion: APIVersion}
	where := map[string]string{}
	addFrom := func(c *Catalogue, file string) error {
		var problems []Problem
		for i, col := range c.Collections {
			if prev, dup := where["collection "+col.Name]; dup {
				problems = append(problems, Problem{File: file, Path: fmt.Sprintf("collections[%d].name", i),
					Msg: fmt.Sprintf("collection %q is also in %s", col.Name, prev)})
			}
			where["collection "+col.Name] = file
		}
		for i, cd := range c.Cases {
			if prev, dup := where["case "+cd.Name]; dup {
				problems = append(problems, Problem{File: file, Path: fmt.Sprintf("cases[%d].name", i),
					Msg: fmt.Sprintf("case %q is also in %s", cd.Name, prev)})
			}
			where["case "+cd.Name] = file
		}
		if len(problems) > 0 {
			return &ConfigError{Problems: problems}
		}
		out.Collections = append(out.Collections, c.Collections...)
		out.Cases = append(out.Cases, c.Cases...)
		return nil
	}
	for _, name := range m.Catalogues {
		var (
			c   *Catalogue
			err error
		)
		src := diskFS(m.Path(name))
		switch {
		case name == BuiltinCatalogue:
			src = builtinFS(m.builtin, BuiltinCases)
		case name == BuiltinWorkloadsCatalogue:
			src = builtinFS(m.builtin, BuiltinWorkloads)
		case m.src.disk == "":
			// ksystest's own matrix names its catalogue inside its files.
			src = builtinFS(m.builtin, name)
		}
		if c, err = loadCatalogue(src); err != nil {
			return nil, err
		}
		if err := addFrom(c, src.display); err != nil {
			return nil, err
		}
	}
	inline := &Catalogue{Collections: m.Collections, Cases: m.Cases}
	if err := addFrom(inline, m.File); err != nil {
		return nil, err
	}
	for i := range out.Collections {
		col := &out.Collections[i]
		if len(col.Loaders) == 0 {
			col.Loaders = slices.Clone(m.Loaders)
		}
		if len(col.Loaders) == 0 {
			col.Loaders = slices.Clone(DefaultLoaders)
		}
		for j, f := range col.LoadFails {
			if !loadsWith(col.Loaders, f.Loader) {
				return nil, &ConfigError{Problems: []Problem{{File: where["collection "+col.Name],
					Path: fmt.Sprintf("collections[%s].loadFails[%d].loader", col.Name, j),
					Msg:  fmt.Sprintf("%q does not load collection %s (its loaders: %s)", f.Loader, col.Name, strings.Join(col.Loaders, ", "))}}}
			}
		}
	}
	// A case of one file may name a collection of another, and a
	// workload a probe whose case is in another.
	var missing []Problem
	for _, cd := range out.Cases {
		if cd.Workload == nil {
			continue
		}
		for _, prog := range cd.Workload.Probes {
			if !slices.ContainsFunc(out.Cases, func(c CaseDef) bool { return c.Workload == nil && c.usesProgram(prog) }) {
				missing = append(missing, Problem{File: where["case "+cd.Name],
					Msg: fmt.Sprintf("workload %q: no case uses probe %q, so nothing says what it watches (add %q to catalogues)", cd.Name, prog, BuiltinCatalogue)})
			}
		}
	}
	for _, cd := range out.Cases {
		if cd.Collection != proto.Builtin && !slices.ContainsFunc(out.Collections, func(c CollectionDef) bool { return c.Name == cd.Collection }) {
			missing = append(missing, Problem{File: where["case "+cd.Name],
				Msg: fmt.Sprintf("case %q: collection %q is in none of the catalogues (ksystest's own is %q)", cd.Name, cd.Collection, proto.Builtin)})
		}
	}
	if len(missing) > 0 {
		return nil, &ConfigError{Problems: missing}
	}
	return out, nil
}

// Select returns the targets whose name matches one of the pattern's
// comma-separated globs ("x86_64-*,arm64-6.1"); an empty pattern selects
// all.
func (m *Matrix) Select(pattern string) ([]Target, error) {
	if pattern == "" {
		return m.Targets.List, nil
	}
	var out []Target
	for _, t := range m.Targets.List {
		for _, glob := range strings.Split(pattern, ",") {
			ok, err := filepath.Match(strings.TrimSpace(glob), t.Name)
			if err != nil {
				return nil, fmt.Errorf("--only %q: %w", pattern, err)
			}
			if ok {
				out = append(out, t)
				break
			}
		}
	}
	return out, nil
}
