package kernel

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
)

// Ref says which kernel to boot: a package of a distro's archive by name,
// or the kernel that linux-image-FLAVOUR points at in that suite.
type Ref struct {
	// Distro is whose archive: "debian" (or empty) or "ubuntu".
	Distro  string
	Suite   string
	DebArch string
	Package string // linux-image-6.1.0-50-amd64; empty: resolve Flavour
	Flavour string // amd64, arm64, s390x, armmp-lpae; Ubuntu's generic
	// UnpackBzImage asks for the uncompressed vmlinux too (x86: PVH boot).
	UnpackBzImage bool
}

// String says what ref asks for: "bookworm amd64 flavour amd64", or
// "bookworm amd64 linux-image-6.1.0-50-amd64"; another distro's than
// Debian's starts with its name ("ubuntu focal-updates amd64 flavour
// generic").
func (ref Ref) String() string {
	s := ref.Suite + " " + ref.DebArch + " flavour " + ref.Flavour
	if ref.Package != "" {
		s = ref.Suite + " " + ref.DebArch + " " + ref.Package
	}
	if d := distroName(ref.Distro); d != archive.Debian.Name {
		s = d + " " + s
	}
	return s
}

// distroName is a Ref's or a lock's distro by name; empty is Debian.
func distroName(name string) string { return cmp.Or(name, archive.Debian.Name) }

// Kernel is a verified, extracted kernel in the cache.
type Kernel struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Distro  string `json:"distro,omitempty"` // empty: Debian
	Suite   string `json:"suite"`
	// Modules is the package the config came from where the image's
	// package lacks it ("linux-modules-5.4.0-216-generic 5.4.0-216.236",
	// Ubuntu's); empty otherwise.
	Modules string `json:"modules,omitempty"`
	// SHA256 and Size are the .deb's, as the archive's index lists them.
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	Release string `json:"release"` // uname -r
	Vmlinuz string `json:"vmlinuz"`
	Config  string `json:"config"`
	// Vmlinux is the uncompressed kernel when asked for and bootable
	// (see VmlinuxFromBzImage); empty otherwise.
	Vmlinux string `json:"-"`
	// ELF is an uncompressed vmlinux of this kernel that is not booted (a
	// local kernel's, on an arch that boots its packed image): where the
	// host reads the kernel's own BTF.
	ELF string `json:"-"`
	// Cached is true when nothing was downloaded for this kernel.
	Cached bool `json:"-"`
	// pkgs are the packages it came from (Modules downloads them again);
	// nil for a local kernel.
	pkgs *Packages
}

// ConfigValue returns CONFIG_NAME's value from the kernel's config: "y",
// "m", a string, or "" when unset.
func (k *Kernel) ConfigValue(name string) (string, error) {
	data, err := os.ReadFile(k.Config)
	if err != nil {
		return "", err
	}
	prefix := []byte("CONFIG_" + name + "=")
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(line, prefix) {
			return strings.Trim(string(line[len(prefix):]), `"`), nil
		}
	}
	return "", nil
}

// LocalKernel describes a kernel from local files; Package is "local" and
// SHA256 the image's own hash. vmlinux, when given, is the uncompressed
// kernel: booted when boot is true, read for its BTF either way.
func LocalKernel(vmlinuz, config, vmlinux string, boot bool) (*Kernel, error) {
	data, err := os.ReadFile(vmlinuz)
	if err != nil {
		return nil, fmt.Errorf("local kernel: %w", err)
	}
	if _, err := os.Stat(config); err != nil {
		return nil, fmt.Errorf("local kernel config: %w", err)
	}
	if vmlinux != "" {
		if _, err := os.Stat(vmlinux); err != nil {
			return nil, fmt.Errorf("local vmlinux: %w", err)
		}
	}
	sum := sha256.Sum256(data)
	k := &Kernel{
		Package: "local", Version: filepath.Base(vmlinuz), SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)),
		Vmlinuz: vmlinuz, Config: config, Vmlinux: vmlinux, ELF: vmlinux, Cached: true,
	}
	if !boot {
		k.Vmlinux = ""
	}
	return k, nil
}

// check refuses names that are not plain Debian names before any of them
// reaches a path or a URL, and a distro ksystest does not know.
func (ref Ref) check() error {
	if _, err := archive.DistroNamed(ref.Distro); err != nil {
		return err
	}
	if err := archive.CheckSuite(ref.Suite); err != nil {
		return err
	}
	if err := archive.CheckArch(ref.DebArch); err != nil {
		return err
	}
	if ref.Package != "" {
		return archive.CheckPackage(ref.Package)
	}
	return archive.CheckPackage("linux-image-" + ref.Flavour)
}

// Packages are the packages a kernel comes in: the image package, with
// /boot/vmlinuz, and where that lacks /boot/config (Ubuntu's), the
// modules package its Depends names, which holds it.
type Packages struct {
	Image archive.Package
	// Modules is nil when the image package holds the config (Debian's).
	Modules *archive.Package
}

// String names the packages with their versions.
func (p Packages) String() string {
	s := p.Image.Name + " " + p.Image.Version
	if p.Modules != nil {
		s += " + " + p.Modules.Name
	}
	return s
}

// key names the kernel these packages make in the cache: the image's
// hash, and the modules package's where there is one.
func (p Packages) key() string {
	if p.Modules == nil {
		return p.Image.SHA256
	}
	return p.Image.SHA256 + "-" + p.Modules.SHA256
}

func (p Packages) origin() string {
	if p.Modules == nil {
		return p.Image.Origin()
	}
	return p.Image.Origin() + " + " + p.Modules.Origin()
}

// of is the archive ref's kernels come from: f's, or the other distro's
// that f's Fetcher gives.
func (f Archive) of(ref Ref) (Archive, error) {
	d, err := archive.DistroNamed(ref.Distro)
	if err != nil {
		return Archive{}, err
	}
	other, err := f.For(d)
	return Archive{other}, err
}

// Resolve finds the kernel packages ref names, without downloading them.
func (f Archive) Resolve(ctx context.Context, ref Ref) (Packages, error) {
	if err := ref.check(); err != nil {
		return Packages{}, err
	}
	f, err := f.of(ref)
	if err != nil {
		return Packages{}, err
	}
	pkgs, err := f.Packages(ctx, ref.Suite, ref.DebArch, "linux-image-")
	if err != nil {
		return Packages{}, err
	}
	name := ref.Package
	if name == "" {
		meta, err := archive.FindPackage(pkgs, "linux-image-"+ref.Flavour)
		if err != nil {
			return Packages{}, fmt.Errorf("suite %s, %s: no kernel flavour %q: %w", ref.Suite, ref.DebArch, ref.Flavour, err)
		}
		name = meta.FirstDependency()
	}
	p, err := archive.FindPackage(pkgs, name)
	if err != nil {
		return Packages{}, fmt.Errorf("suite %s, %s: %w", ref.Suite, ref.DebArch, err)
	}
	modules := modulesDependency(p)
	if modules == "" {
		return Packages{Image: p}, nil
	}
	m, err := f.modules(ctx, ref.Suite, ref.DebArch, p, modules)
	if err != nil {
		return Packages{}, err
	}
	return Packages{Image: p, Modules: &m}, nil
}

// modules finds the modules package of image in the index: it must be of
// the image's version, since its config describes one build.
func (f Archive) modules(ctx context.Context, suite, debArch string, image archive.Package, name string) (archive.Package, error) {
	pkgs, err := f.Packages(ctx, suite, debArch, modulesPrefix)
	if err != nil {
		return archive.Package{}, err
	}
	m, err := archive.FindPackage(pkgs, name)
	if err != nil {
		return archive.Package{}, fmt.Errorf("suite %s, %s: the modules package of %s, which holds its config: %w", suite, debArch, image.Name, err)
	}
	if m.Version != image.Version {
		return archive.Package{}, fmt.Errorf("suite %s, %s: %s is %s, but %s is %s: its config would not be the kernel's",
			suite, debArch, image.Name, image.Version, m.Name, m.Version)
	}
	return m, nil
}

const modulesPrefix = "linux-modules-"

// modulesDependency is the linux-modules-RELEASE package an image package
// depends on (Ubuntu's: it holds /boot/config), or "" (Debian's image
// package holds its modules and config itself).
func modulesDependency(p archive.Package) string {
	for _, dep := range strings.Split(p.Depends, ",") {
		for _, alt := range strings.Split(dep, "|") {
			name, _, _ := strings.Cut(strings.TrimSpace(alt), " ")
			name, _, _ = strings.Cut(name, ":")
			if strings.HasPrefix(name, modulesPrefix) && !strings.HasPrefix(name, modulesPrefix+"extra-") {
				return name
			}
		}
	}
	return ""
}

// Kernel returns the kernel ref names, downloading and extracting it only
// when the cache lacks it or holds it damaged.
func (f Archive) Kernel(ctx context.Context, ref Ref) (*Kernel, error) {
	p, err := f.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return f.kernel(ctx, ref, p)
}

// kernel returns the kernel in packages p of ref's archive, as Kernel
// does.
func (f Archive) kernel(ctx context.Context, ref Ref, p Packages) (*Kernel, error) {
	f, err := f.of(ref)
	if err != nil {
		return nil, err
	}
	dir := f.Cache.Path("kernels", p.key())
	cached, err := f.Cache.File(ctx, "kernel-"+p.Image.SHA256[:16], dir, p.origin(), func(tmp string) (string, error) {
		return f.fetchKernel(ctx, p, tmp)
	})
	if err != nil {
		return nil, err
	}
	k, err := readKernel(dir)
	if err != nil {
		return nil, err
	}
	// The same .deb may be in several suites: the one asked for is the
	// one to report, and to find the -dbg package in.
	k.Suite, k.Cached, k.pkgs = ref.Suite, cached, &p
	if d := distroName(ref.Distro); d != archive.Debian.Name {
		k.Distro = d
	}
	if ref.UnpackBzImage {
		f.ensureVmlinux(ctx, k, dir)
	}
	return k, nil
}

// fetchKernel downloads the packages p into tmp and lays out a kernel
// entry there: the vmlinuz from the image package, the config from it
// too or from the modules package.
func (f Archive) fetchKernel(ctx context.Context, p Packages, tmp string) (string, error) {
	want := archive.BootVmlinuz | archive.BootConfig
	if p.Modules != nil {
		want = archive.BootVmlinuz
	}
	boot, err := f.bootFiles(ctx, p.Image, want, tmp)
	if err != nil {
		return "", err
	}
	k := &Kernel{Package: p.Image.Name, Version: p.Image.Version, SHA256: p.Image.SHA256, Size: p.Image.Size, Release: boot.Release}
	if p.Modules != nil {
		mod, err := f.bootFiles(ctx, *p.Modules, archive.BootConfig, tmp)
		if err != nil {
			return "", err
		}
		if mod.ConfigRelease != boot.Release {
			return "", fmt.Errorf("%s holds the config of %s, but %s is %s", p.Modules.Name, mod.ConfigRelease, p.Image.Name, boot.Release)
		}
		boot.Config = mod.Config
		k.Modules = p.Modules.Name + " " + p.Modules.Version
	}
	entry := filepath.Join(tmp, "entry")
	return entry, writeKernel(entry, k, boot)
}

// bootFiles downloads package p into dir and reads the boot files want
// names from it; the .deb is gone when it returns.
func (f Archive) bootFiles(ctx context.Context, p archive.Package, want archive.BootParts, dir string) (*archive.BootFiles, error) {
	deb := filepath.Join(dir, p.SHA256[:16]+".deb")
	start := time.Now()
	f.Log("downloading %s %s (%d MiB)", p.Name, p.Version, p.Size>>20)
	if err := f.DownloadPackage(ctx, p, deb); err != nil {
		return nil, err
	}
	f.Log("downloaded %s in %s", p.Name, time.Since(start).Round(time.Millisecond))
	defer os.Remove(deb)
	r, err := os.Open(deb)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	boot, err := archive.ExtractBootParts(r, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	return boot, nil
}

func writeKernel(dir string, k *Kernel, boot *archive.BootFiles) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "vmlinuz"), boot.Vmlinuz, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), boot.Config, 0o644); err != nil {
		return err
	}
	meta, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "kernel.json"), meta, 0o644)
}

func readKernel(dir string) (*Kernel, error) {
	data, err := cache.ReadFileLimit(filepath.Join(dir, "kernel.json"), 1<<20)
	if err != nil {
		return nil, err
	}
	var k Kernel
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	k.Vmlinuz = filepath.Join(dir, "vmlinuz")
	k.Config = filepath.Join(dir, "config")
	return &k, nil
}
