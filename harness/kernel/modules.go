package kernel

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
)

// ModuleSet is a few of a kernel's modules, taken out of its own package
// and decompressed, with the order that loads them: each after the
// modules it depends on. Debian's packages carry no modules.dep (depmod
// writes it when the package is installed); the order comes from each
// module's own .modinfo "depends=", which the kernel's build wrote.
type ModuleSet struct {
	// Dir holds NAME.ko for each module of Order.
	Dir string
	// Order names the modules to load, dependencies first. Modules the
	// kernel has built in (modules.builtin) are not in it.
	Order []string
}

// Path is where module name is in the set.
func (s *ModuleSet) Path(name string) string { return filepath.Join(s.Dir, name+".ko") }

// ErrNoModules means a kernel has no package to take modules from (a
// local kernel).
var ErrNoModules = errors.New("the kernel has no package to take modules from")

// Bounds on what module extraction writes and reads: far above Debian's
// largest module (amdgpu, about 20 MB uncompressed) and package.
const (
	maxModule        = 128 << 20
	maxModuleTree    = 4 << 30
	maxModuleInfo    = 1 << 20
	maxModuleListing = 16 << 20
)

// Modules gives the modules names ask for, and those they depend on, from
// k's own package (Ubuntu's: its modules package), cached: the package is
// downloaded and read to its end once. A name the kernel has built in is
// left out; one it has neither built in nor as a module is an error that
// says so.
func (f Archive) Modules(ctx context.Context, k *Kernel, names []string) (*ModuleSet, error) {
	if len(names) == 0 {
		return &ModuleSet{}, nil
	}
	f, p, err := f.modulesPackage(k)
	if err != nil {
		return nil, err
	}
	names = slices.Sorted(slices.Values(names))
	from := fmt.Sprintf("%s %s sha256 %s: %s", p.Name, p.Version, p.SHA256, strings.Join(names, " "))
	key := cache.Key(from)
	dir := f.Cache.Path("modules", key)
	_, err = f.Cache.File(ctx, "modules-"+key, dir, from, func(tmp string) (string, error) {
		return f.extractModules(ctx, p, k.Release, names, tmp)
	})
	if err != nil {
		return nil, fmt.Errorf("modules %s of %s: %w", strings.Join(names, ", "), p.Name, err)
	}
	order, err := cache.ReadFileLimit(filepath.Join(dir, "order"), maxModuleInfo)
	if err != nil {
		return nil, err
	}
	set := &ModuleSet{Dir: dir}
	for _, name := range strings.Fields(string(order)) {
		if !validModuleName(name) {
			return nil, fmt.Errorf("%s: bad module name %q", f.Cache.Rel(dir), name)
		}
		set.Order = append(set.Order, name)
	}
	return set, nil
}

// modulesPackage is the package holding k's modules (the image's, or
// Ubuntu's separate modules package) and the archive it comes from
// (Ubuntu's kernels download from Ubuntu's).
func (f Archive) modulesPackage(k *Kernel) (Archive, archive.Package, error) {
	if k.pkgs == nil {
		return f, archive.Package{}, ErrNoModules
	}
	f, err := f.of(Ref{Distro: k.Distro})
	if err != nil {
		return f, archive.Package{}, err
	}
	if k.pkgs.Modules != nil {
		return f, *k.pkgs.Modules, nil
	}
	return f, k.pkgs.Image, nil
}

// unpackPackage downloads p into tmp (for what it is wanted) and unpacks
// release's module tree from it into dir, the .deb then removed.
func (f Archive) unpackPackage(ctx context.Context, p archive.Package, release, tmp, dir, what string) (*moduleTree, error) {
	deb := filepath.Join(tmp, p.SHA256[:16]+".deb")
	f.Log("downloading %s %s (%d MiB) for its %s", p.Name, p.Version, p.Size>>20, what)
	if err := f.DownloadPackage(ctx, p, deb); err != nil {
		return nil, err
	}
	t, err := unpackModules(deb, release, dir)
	os.Remove(deb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	return t, nil
}

// extractModules downloads p, unpacks its module tree into tmp and lays
// out the entry: the modules names need, decompressed, and their order.
func (f Archive) extractModules(ctx context.Context, p archive.Package, release string, names []string, tmp string) (string, error) {
	start := time.Now()
	t, err := f.unpackPackage(ctx, p, release, tmp, filepath.Join(tmp, "tree"), "modules")
	if err != nil {
		return "", err
	}
	order, err := t.order(names)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.Name, err)
	}
	entry := filepath.Join(tmp, "entry")
	if err := os.MkdirAll(entry, 0o755); err != nil {
		return "", err
	}
	for _, name := range order {
		data, err := t.read(name)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(entry, name+".ko"), data, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(entry, "order"), []byte(strings.Join(order, "\n")+"\n"), 0o644); err != nil {
		return "", err
	}
	f.Log("took %s's modules %s out of %s in %s", release, strings.Join(order, " "), p.Name, time.Since(start).Round(time.Millisecond))
	return entry, nil
}

// moduleTree is a package's module tree unpacked on disk: each module by
// its name (hyphens as underscores, as the kernel names them), and the
// names of the modules built into the kernel.
type moduleTree struct {
	dir     string
	files   map[string]string // name → path below dir
	builtin map[string]bool
}

// unpackModules writes the modules of release (lib/modules/RELEASE, or
// usr/lib/modules/RELEASE) in the .deb at deb below dir.
func unpackModules(deb, release, dir string) (*moduleTree, error) {
	r, err := os.Open(deb)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	t := &moduleTree{dir: dir, files: map[string]string{}, builtin: map[string]bool{}}
	var total int64
	sawTree := false
	err = archive.WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
		rel, ok := moduleTreePath(name, release)
		if !ok {
			return nil
		}
		sawTree = true
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		switch {
		case rel == "modules.builtin":
			data, err := readLimit(body, hdr.Size, maxModuleListing, name)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(data), "\n") {
				if n, ok := moduleName(line); ok {
					t.builtin[n] = true
				}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
		case !strings.Contains(rel, "/") && strings.HasPrefix(rel, "modules."):
			// The build's listings (modules.order, modules.builtin
			// .modinfo): the tree keeps them.
			data, err := readLimit(body, hdr.Size, maxModuleListing, name)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
		case !strings.HasPrefix(rel, "kernel/") && !strings.HasPrefix(rel, "updates/") && !strings.HasPrefix(rel, "extra/"):
			return nil
		}
		mod, ok := moduleName(rel)
		if !ok {
			return nil
		}
		if hdr.Size > maxModule {
			return fmt.Errorf("%s: %d bytes, more than %d", name, hdr.Size, maxModule)
		}
		if total += hdr.Size; total > maxModuleTree {
			return fmt.Errorf("the module tree is larger than %d bytes", maxModuleTree)
		}
		if prev, dup := t.files[mod]; dup {
			return fmt.Errorf("module %s is both %s and %s", mod, prev, rel)
		}
		dest := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		out, err := os.Create(dest)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, io.LimitReader(body, hdr.Size))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		t.files[mod] = rel
		return err
	})
	if err != nil {
		return nil, err
	}
	if !sawTree {
		return nil, fmt.Errorf("no module tree for %s in the package", release)
	}
	return t, nil
}

// moduleTreePath is name's path inside the module tree of release, if it
// is in it.
func moduleTreePath(name, release string) (string, bool) {
	for _, root := range []string{"lib/modules/", "usr/lib/modules/"} {
		if rel, ok := strings.CutPrefix(name, root+release+"/"); ok && rel != "" {
			if cache.CheckRelPath("module", rel) != nil {
				return "", false
			}
			return rel, true
		}
	}
	return "", false
}

// moduleName is the kernel's name of the module file at p
// ("kernel/fs/9p/9p.ko.xz" is 9p, ".../9pnet_virtio.ko" 9pnet_virtio,
// "snd-hda-intel.ko" snd_hda_intel).
func moduleName(p string) (string, bool) {
	base := path.Base(strings.TrimSpace(p))
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if n, ok := strings.CutSuffix(base, ext); ok && n != "" {
			n = strings.ReplaceAll(n, "-", "_")
			return n, validModuleName(n)
		}
	}
	return "", false
}

func validModuleName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// order is names and the modules they depend on, each after its
// dependencies; built-in names are left out.
func (t *moduleTree) order(names []string) ([]string, error) {
	return t.orderBy(names, t.depends)
}

// orderBy is order with what each module depends on from depends.
func (t *moduleTree) orderBy(names []string, depends func(string) ([]string, error)) ([]string, error) {
	var out []string
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(name, by string) error
	visit = func(name, by string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("module %s depends on itself through %s", name, by)
		case 2:
			return nil
		}
		if _, ok := t.files[name]; !ok {
			if t.builtin[name] {
				state[name] = 2
				return nil
			}
			if by != "" {
				return fmt.Errorf("module %s, which %s depends on, is not in the package", name, by)
			}
			return fmt.Errorf("the kernel has no module %s, and does not have it built in", name)
		}
		state[name] = 1
		deps, err := depends(name)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		out = append(out, name)
		return nil
	}
	for _, n := range names {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// depends are the modules name's .modinfo says it depends on.
func (t *moduleTree) depends(name string) ([]string, error) {
	data, err := t.read(name)
	if err != nil {
		return nil, err
	}
	info, err := modinfo(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.files[name], err)
	}
	var deps []string
	for _, kv := range info {
		if d, ok := strings.CutPrefix(kv, "depends="); ok {
			for _, n := range strings.Split(d, ",") {
				n = strings.ReplaceAll(strings.TrimSpace(n), "-", "_")
				if n == "" {
					continue
				}
				if !validModuleName(n) {
					return nil, fmt.Errorf("%s: bad dependency %q", t.files[name], n)
				}
				deps = append(deps, n)
			}
		}
	}
	return deps, nil
}

// read is module name, decompressed.
func (t *moduleTree) read(name string) ([]byte, error) {
	rel := t.files[name]
	f, err := os.Open(filepath.Join(t.dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(rel, ".xz"):
		// In process: a module is small, and a tree has thousands.
		x, err := xz.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		r = x
	case strings.HasSuffix(rel, ".zst"):
		z, err := zstd.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		defer z.Close()
		r = z
	case strings.HasSuffix(rel, ".gz"):
		g, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		r = g
	}
	data, err := io.ReadAll(io.LimitReader(r, maxModule+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if len(data) > maxModule {
		return nil, fmt.Errorf("%s: more than %d bytes decompressed", rel, maxModule)
	}
	return data, nil
}

// modinfo is the NUL-separated key=value strings of a module's .modinfo
// section.
func modinfo(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section")
	}
	if sec.Size > maxModuleInfo {
		return nil, fmt.Errorf(".modinfo of %d bytes", sec.Size)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range bytes.Split(data, []byte{0}) {
		if len(s) > 0 {
			out = append(out, string(s))
		}
	}
	return out, nil
}

func readLimit(r io.Reader, size, limit int64, name string) ([]byte, error) {
	if size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", name, size, limit)
	}
	return io.ReadAll(io.LimitReader(r, size))
}
