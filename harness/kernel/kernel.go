package kernel

import (
	"bytes"
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

// Ref says which Debian kernel to boot: a package by name, or the
// kernel that linux-image-FLAVOUR points at in that suite.
type Ref struct {
	Suite   string
	DebArch string
	Package string // linux-image-6.1.0-50-amd64; empty: resolve Flavour
	Flavour string // amd64, arm64, s390x, armmp-lpae
	// UnpackBzImage asks for the uncompressed vmlinux too (x86: PVH boot).
	UnpackBzImage bool
}

// String says what ref asks for: "bookworm amd64 flavour amd64", or
// "bookworm amd64 linux-image-6.1.0-50-amd64".
func (ref Ref) String() string {
	if ref.Package != "" {
		return ref.Suite + " " + ref.DebArch + " " + ref.Package
	}
	return ref.Suite + " " + ref.DebArch + " flavour " + ref.Flavour
}

// Kernel is a verified, extracted kernel in the cache.
type Kernel struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Suite   string `json:"suite"`
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
// reaches a path or a URL.
func (ref Ref) check() error {
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

// Resolve finds the kernel package ref names, without downloading it.
func (f Archive) Resolve(ctx context.Context, ref Ref) (archive.Package, error) {
	if err := ref.check(); err != nil {
		return archive.Package{}, err
	}
	pkgs, err := f.Packages(ctx, ref.Suite, ref.DebArch, "linux-image-")
	if err != nil {
		return archive.Package{}, err
	}
	name := ref.Package
	if name == "" {
		meta, err := archive.FindPackage(pkgs, "linux-image-"+ref.Flavour)
		if err != nil {
			return archive.Package{}, fmt.Errorf("suite %s, %s: no kernel flavour %q: %w", ref.Suite, ref.DebArch, ref.Flavour, err)
		}
		name = meta.FirstDependency()
	}
	p, err := archive.FindPackage(pkgs, name)
	if err != nil {
		return archive.Package{}, fmt.Errorf("suite %s, %s: %w", ref.Suite, ref.DebArch, err)
	}
	return p, nil
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

// kernel returns the kernel in package p, as Kernel does.
func (f Archive) kernel(ctx context.Context, ref Ref, p archive.Package) (*Kernel, error) {
	dir := f.Cache.Path("kernels", p.SHA256)
	cached, err := f.Cache.File(ctx, "kernel-"+p.SHA256[:16], dir, p.Origin(), func(tmp string) (string, error) {
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
	k.Suite, k.Cached = ref.Suite, cached
	if ref.UnpackBzImage {
		f.ensureVmlinux(ctx, k, dir)
	}
	return k, nil
}

// origin names a package exactly, for the manifests of the cache entries
// made from it.
// fetchKernel downloads p into tmp and lays out a kernel entry there.
func (f Archive) fetchKernel(ctx context.Context, p archive.Package, tmp string) (string, error) {
	deb := filepath.Join(tmp, "kernel.deb")
	start := time.Now()
	f.Log("downloading %s %s (%d MiB)", p.Name, p.Version, p.Size>>20)
	if err := f.Download(ctx, f.Mirror+"/"+p.Filename, cache.FileSum{SHA256: p.SHA256, Size: p.Size}, deb); err != nil {
		return "", err
	}
	f.Log("downloaded %s in %s", p.Name, time.Since(start).Round(time.Millisecond))
	r, err := os.Open(deb)
	if err != nil {
		return "", err
	}
	boot, err := archive.ExtractBoot(r)
	r.Close()
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.Name, err)
	}
	entry := filepath.Join(tmp, "entry")
	k := &Kernel{Package: p.Name, Version: p.Version, SHA256: p.SHA256, Size: p.Size, Release: boot.Release}
	return entry, writeKernel(entry, k, boot)
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
