// Package matrix reads matrix.yaml (which targets to boot) and the case
// catalogue it names (which syscalls to check), strictly: unknown keys and
// wrong types are errors with file and line, and Validate reports every
// problem at once. Defaults live in ApplyDefaults only. It imports arch and
// proto, nothing that boots or fetches.
package matrix

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
)

// APIVersion is the matrix.yaml and catalogue format this build reads.
const APIVersion = "ksystest/v1"

// Matrix is a decoded matrix.yaml.
type Matrix struct {
	APIVersion string `yaml:"apiVersion"`
	Cases      string `yaml:"cases"`
	// Lock is the kernel lock file (images/kernels.lock) that pins the
	// exact kernel each target boots; empty follows the suites. Written
	// by ksystest lock.
	Lock    string   `yaml:"lock"`
	Targets []Target `yaml:"targets"`

	// File is where the matrix was read from; paths in it are relative to
	// its directory.
	File string `yaml:"-"`
}

// Target is one guest to boot.
type Target struct {
	Name   string `yaml:"name"`
	Arch   string `yaml:"arch"`
	Kernel Kernel `yaml:"kernel"`
	// SyscallWrapper declares whether the kernel has
	// CONFIG_ARCH_HAS_SYSCALL_WRAPPER. Required: a matrix says what it
	// expects, and ksystest checks it.
	SyscallWrapper *bool `yaml:"syscallWrapper"`
	MemoryMB       int   `yaml:"memoryMB"`
	// BootTimeout bounds QEMU start to agent start before emulation
	// slowdown is applied; default from the arch.
	BootTimeout Duration `yaml:"bootTimeout"`
	// BTF is a BTF file to load probes against instead of the kernel's
	// own (or of one generated from its -dbg package); relative to the
	// matrix file.
	BTF string `yaml:"btf"`
}

// Kernel names a Debian kernel: a package, or a flavour whose metapackage
// (linux-image-FLAVOUR) points at one; or a kernel on local disk.
type Kernel struct {
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

// Load reads, defaults and validates a matrix file.
func Load(file string) (*Matrix, error) {
	m := Matrix{File: file}
	if err := loadFile(file, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// ApplyDefaults fills every field left empty. It is the only place
// defaults live.
func (m *Matrix) ApplyDefaults() {
	if m.Cases == "" {
		m.Cases = "bpf/cases.yaml"
	}
	for i := range m.Targets {
		t := &m.Targets[i]
		if t.Name == "" {
			t.Name = t.Arch + "-" + t.Kernel.Suite
		}
		if t.MemoryMB == 0 {
			t.MemoryMB = 512
		}
		t.BTF = m.Path(t.BTF)
		if t.BootTimeout == 0 {
			t.BootTimeout = Duration(60 * time.Second)
		}
		a, err := arch.Lookup(t.Arch)
		if err == nil && t.Kernel.Package == "" && t.Kernel.Flavour == "" && t.Kernel.Local == nil {
			t.Kernel.Flavour = a.KernelFlavour
		}
		if l := t.Kernel.Local; l != nil {
			l.Vmlinuz, l.Config, l.Vmlinux = m.Path(l.Vmlinuz), m.Path(l.Config), m.Path(l.Vmlinux)
			if t.Name == t.Arch+"-" {
				t.Name = t.Arch + "-local"
			}
		}
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate returns every problem with the matrix, each with its YAML path.
func (m *Matrix) Validate() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if m.APIVersion != APIVersion {
		add("apiVersion", "is %q, want %q", m.APIVersion, APIVersion)
	}
	if len(m.Targets) == 0 {
		add("targets", "no targets")
	}
	// ksystest lock writes the lock: it must not be a file the matrix
	// needs.
	if lock := filepath.Clean(m.Path(m.Lock)); m.Lock != "" {
		if lock == filepath.Clean(m.File) || lock == filepath.Clean(m.CasesPath()) {
			add("lock", "%q is the matrix or its case catalogue, which ksystest lock would overwrite: "+
				"name a file of its own (images/kernels.lock)", m.Lock)
		}
	}
	seen := map[string]int{}
	for i, t := range m.Targets {
		p := fmt.Sprintf("targets[%d]", i)
		if _, err := arch.Lookup(t.Arch); err != nil {
			add(p+".arch", "%v", err)
		}
		switch l := t.Kernel.Local; {
		case l != nil:
			if t.Kernel.Suite != "" || t.Kernel.Package != "" || t.Kernel.Flavour != "" {
				add(p+".kernel.local", "a local kernel takes no suite, package or flavour")
			}
			if l.Vmlinuz == "" {
				add(p+".kernel.local.vmlinuz", "missing: the kernel image to boot")
			}
			if l.Config == "" {
				add(p+".kernel.local.config", "missing: the kernel's .config (ksystest reads the wrapper and BTF options)")
			}
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
		if t.MemoryMB < 128 {
			add(p+".memoryMB", "%d is too little to boot; use at least 128", t.MemoryMB)
		}
	}
	return ps
}

// CasesPath is the catalogue's path, resolved against the matrix file.
func (m *Matrix) CasesPath() string { return m.Path(m.Cases) }

// Path resolves a path written in the matrix against its directory.
func (m *Matrix) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(m.File), p)
}

// Select returns the targets whose name matches the glob pattern; an empty
// pattern selects all.
func (m *Matrix) Select(pattern string) ([]Target, error) {
	if pattern == "" {
		return m.Targets, nil
	}
	var out []Target
	for _, t := range m.Targets {
		ok, err := filepath.Match(pattern, t.Name)
		if err != nil {
			return nil, fmt.Errorf("--only %q: %w", pattern, err)
		}
		if ok {
			out = append(out, t)
		}
	}
	return out, nil
}
