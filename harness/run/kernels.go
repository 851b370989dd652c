package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/kernelbtf"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/sysparams"
)

// DebianKernels is the KernelSource backed by Debian's archive, and by
// Ubuntu's for targets whose kernel says distro: ubuntu (the fetcher of
// Debian's gives Ubuntu's: archive.Fetcher.For), and by local files for
// targets that name them.
type DebianKernels struct {
	// Archive gives the fetcher of Debian's archive. It is asked only for
	// the archive's kernels and their BTF, so a matrix of local kernels
	// runs without a mirror or a keyring; Fetched gives one made already.
	Archive func() (*archive.Fetcher, error)
	// Cache keeps what ksystest makes of kernels (their own BTF, taken
	// out of their images).
	Cache *cache.Cache
	// Lock, when set, pins the kernel of every target from the archive
	// (the matrix's lock: file); nil follows the suites.
	Lock *kernel.Lock
	// BTFRecipe says how to make BTF for a kernel built without it
	// (ksystest's is images/btf.yaml).
	BTFRecipe *kernel.BTFRecipe
}

// Kernel fetches (or finds cached) the target's kernel, the locked one
// when there is a lock, or describes its local one.
func (d DebianKernels) Kernel(ctx context.Context, t matrix.Target, a arch.Arch) (*kernel.Kernel, error) {
	if l := t.Kernel.Local; l != nil {
		return kernel.LocalKernel(l.Vmlinuz, l.Config, l.Vmlinux, a.BootVmlinux)
	}
	f, err := d.Archive()
	if err != nil {
		return nil, err
	}
	if d.Lock != nil {
		return kernel.Archive{Fetcher: f}.LockedKernel(ctx, d.Lock, t.Name, KernelRef(t, a))
	}
	return kernel.Archive{Fetcher: f}.Kernel(ctx, KernelRef(t, a))
}

// Modules gives modules of the target's kernel from its package.
func (d DebianKernels) Modules(ctx context.Context, t matrix.Target, a arch.Arch, k *kernel.Kernel, names []string) (*kernel.ModuleSet, error) {
	if t.Kernel.Local != nil {
		return nil, kernel.ErrNoModules
	}
	f, err := d.Archive()
	if err != nil {
		return nil, err
	}
	return kernel.Archive{Fetcher: f}.Modules(ctx, k, names)
}

// ModuleTree gives the target's kernel's module tree from its package.
func (d DebianKernels) ModuleTree(ctx context.Context, t matrix.Target, k *kernel.Kernel) (*kernel.ModuleTree, error) {
	if t.Kernel.Local != nil {
		return nil, kernel.ErrNoModules
	}
	f, err := d.Archive()
	if err != nil {
		return nil, err
	}
	return kernel.Archive{Fetcher: f}.ModuleTree(ctx, k)
}

// Fetched is an Archive that gives f, made already.
func Fetched(f *archive.Fetcher) func() (*archive.Fetcher, error) {
	return func() (*archive.Fetcher, error) { return f, nil }
}

// KernelRef is the archive's kernel target t asks for (t has no local
// kernel).
func KernelRef(t matrix.Target, a arch.Arch) kernel.Ref {
	return kernel.Ref{
		Distro: t.Kernel.Distro, Suite: t.Kernel.Suite, DebArch: a.DebianArch, Package: t.Kernel.Package, Flavour: t.Kernel.Flavour,
		UnpackBzImage: a.BootVmlinux,
	}
}

// BTF gives the target's BTF file, the kernel's own, or one generated
// from the kernel's -dbg package.
func (d DebianKernels) BTF(ctx context.Context, t matrix.Target, a arch.Arch, k *kernel.Kernel) (*result.BTF, string, error) {
	switch {
	case t.BTF != "":
		return fileBTF(t.BTF)
	case k.HasOwnBTF() && t.Kernel.Local != nil:
		// The host reads it before anything boots: a local image whose
		// BTF it cannot reach is the config's to mend.
		if _, err := kernel.OwnBTF(ctx, d.Cache, k); err != nil {
			return nil, "", &ConfigError{fmt.Errorf("local kernel %s: its config sets CONFIG_DEBUG_INFO_BTF, but %v: "+
				"give the target the kernel's uncompressed vmlinux (kernel: {local: {vmlinux: FILE}}) or a btf: file", k.Vmlinuz, err)}
		}
		return &result.BTF{Source: result.BTFKernel}, "", nil
	case k.HasOwnBTF():
		return &result.BTF{Source: result.BTFKernel}, "", nil
	case t.Kernel.Local != nil:
		return nil, "", &ConfigError{fmt.Errorf("local kernel %s has no BTF (CONFIG_DEBUG_INFO_BTF is not set): give the target a btf: file "+
			"(pahole --btf_encode_detached=FILE vmlinux makes one from a vmlinux with debug info)", k.Vmlinuz)}
	}
	f, err := d.Archive()
	if err != nil {
		return nil, "", err
	}
	b, path, err := kernel.Archive{Fetcher: f}.KernelBTF(ctx, k, a.DebianArch, d.BTFRecipe)
	if errors.Is(err, kernel.ErrNoBTF) {
		err = &ConfigError{err} // nothing to make it from: the target must name it
	}
	return b, path, err
}

func fileBTF(path string) (*result.BTF, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("btf: %w", err)
	}
	return &result.BTF{Source: result.BTFFile, From: path, Bytes: st.Size()}, path, nil
}

// HostBTF is the kernel's BTF as the host reads it: the BTF file probes
// load against when there is one (btfPath: generated or the target's), or
// the kernel's own, taken out of its image.
func (d DebianKernels) HostBTF(ctx context.Context, k *kernel.Kernel, btfPath string) (string, error) {
	if btfPath != "" {
		return btfPath, nil
	}
	return kernel.OwnBTF(ctx, d.Cache, k)
}

// kernelFacts is what the host knows of k before booting it: its config
// and the prototypes in its BTF (btfPath, "" for none), to plan each case's
// call.
func kernelFacts(k *kernel.Kernel, btfPath string) (sysparams.Kernel, map[string]string, *kernelbtf.Spec, error) {
	var facts sysparams.Kernel
	var spec *kernelbtf.Spec
	cfg := map[string]string{}
	if k.Config != "" {
		var err error
		if cfg, err = readConfig(k.Config); err != nil {
			return facts, nil, nil, fmt.Errorf("kernel config: %w", err)
		}
		facts.Config = func(name string) string { return cfg[name] }
	}
	if btfPath != "" {
		data, err := os.ReadFile(btfPath)
		if err != nil {
			return facts, nil, nil, fmt.Errorf("kernel BTF: %w", err)
		}
		if spec, err = kernelbtf.Parse(data); err != nil {
			return facts, nil, nil, fmt.Errorf("kernel BTF %s: %w", btfPath, err)
		}
		facts.Prototype = spec.Prototype
	}
	return facts, cfg, spec, nil
}

// readConfig reads a kernel .config into NAME → value (without CONFIG_,
// quotes stripped); unset options are absent.
func readConfig(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(name, "CONFIG_") {
			continue
		}
		cfg[strings.TrimPrefix(name, "CONFIG_")] = strings.Trim(value, `"`)
	}
	return cfg, nil
}
