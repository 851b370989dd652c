package kernel

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
)

// ModuleTree is a kernel's whole module tree, as /lib/modules/RELEASE
// holds it once the package is installed: every module of the package as
// it ships them (compressed on Debian's 6.12: the kernel decompresses
// them itself, CONFIG_MODULE_DECOMPRESS), the package's modules.builtin
// and modules.order, and the modules.dep and modules.alias depmod would
// write at installation, made from each module's .modinfo (depends=,
// alias=): depmod is not on every host.
type ModuleTree struct {
	// Dir is the tree: Dir/modules.dep, Dir/kernel/...
	Dir     string
	Release string
	// Modules is how many modules it holds.
	Modules int
}

// ModuleTree gives k's module tree, taken out of its package once and
// cached. Its manifest is checked by size at each use (the tree is
// hundreds of MB; it was hashed when made).
func (f Archive) ModuleTree(ctx context.Context, k *Kernel) (*ModuleTree, error) {
	f, p, err := f.modulesPackage(k)
	if err != nil {
		return nil, err
	}
	from := fmt.Sprintf("module tree v1 of %s %s sha256 %s", p.Name, p.Version, p.SHA256)
	key := cache.Key(from)
	dir := f.Cache.Path("moduletrees", key)
	if _, err := f.Cache.Sums(dir, from); err != nil {
		if _, err := f.Cache.File(ctx, "moduletree-"+key, dir, from, func(tmp string) (string, error) {
			return f.extractTree(ctx, p, k.Release, tmp)
		}); err != nil {
			return nil, fmt.Errorf("the module tree of %s: %w", p.Name, err)
		}
	}
	dep, err := cache.ReadFileLimit(filepath.Join(dir, "modules.dep"), maxModuleListing)
	if err != nil {
		return nil, err
	}
	return &ModuleTree{Dir: dir, Release: k.Release, Modules: strings.Count(string(dep), "\n")}, nil
}

// extractTree downloads p and lays out release's module tree in tmp.
func (f Archive) extractTree(ctx context.Context, p archive.Package, release, tmp string) (string, error) {
	start := time.Now()
	entry := filepath.Join(tmp, "entry")
	t, err := f.unpackPackage(ctx, p, release, tmp, entry, "module tree")
	if err != nil {
		return "", err
	}
	plain, err := decompressAll(ctx, t, filepath.Join(tmp, "plain"))
	if err != nil {
		return "", err
	}
	names := slices.Sorted(maps.Keys(t.files))
	deps := map[string][]string{}
	var dep, alias strings.Builder
	for _, name := range names {
		data, err := plain.read(name)
		if err != nil {
			return "", err
		}
		info, err := modinfo(data)
		if err != nil {
			return "", fmt.Errorf("%s: %w", t.files[name], err)
		}
		for _, kv := range info {
			switch k, v, _ := strings.Cut(kv, "="); k {
			case "depends":
				for _, d := range strings.Split(v, ",") {
					if d = strings.ReplaceAll(strings.TrimSpace(d), "-", "_"); d != "" {
						deps[name] = append(deps[name], d)
					}
				}
			case "alias":
				if v != "" && !strings.ContainsAny(v, " \n") {
					fmt.Fprintf(&alias, "alias %s %s\n", v, name)
				}
			}
		}
	}
	for _, name := range names {
		// depmod's order: every module the module needs, directly or
		// not, the ones loaded last first (modprobe loads from the end).
		order, err := loadOrder(name, deps, t)
		if err != nil {
			// depmod warns and goes on: so does modprobe, which then
			// says what the kernel refuses.
			f.Log("%s: %v", t.files[name], err)
			order = nil
		}
		paths := make([]string, 0, len(order))
		for i := len(order) - 1; i >= 0; i-- {
			paths = append(paths, t.files[order[i]])
		}
		fmt.Fprintf(&dep, "%s:%s\n", t.files[name], strings.TrimRight(" "+strings.Join(paths, " "), " "))
	}
	for file, data := range map[string]string{"modules.dep": dep.String(), "modules.alias": alias.String()} {
		if err := os.WriteFile(filepath.Join(entry, file), []byte(data), 0o644); err != nil {
			return "", err
		}
	}
	f.Log("took %s's module tree (%d modules) out of %s in %s", release, len(t.files), p.Name, time.Since(start).Round(time.Millisecond))
	return entry, nil
}

// decompressAll gives t's modules decompressed, in a copy of the tree
// under dir: xz ones by the xz tool, thousands at a time (one process,
// native speed: Go's decoder takes minutes for a 6.12 tree); others as
// they are.
func decompressAll(ctx context.Context, t *moduleTree, dir string) (*moduleTree, error) {
	tool, err := exec.LookPath("xz")
	if err != nil || !slices.ContainsFunc(slices.Collect(maps.Values(t.files)), func(rel string) bool { return strings.HasSuffix(rel, ".xz") }) {
		return t, nil // none, or read decompresses each, slower
	}
	plain := &moduleTree{dir: dir, files: map[string]string{}, builtin: t.builtin}
	var batch []string
	run := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := exec.CommandContext(ctx, tool, append([]string{"-d", "-f", "-q", "--"}, batch...)...).CombinedOutput()
		batch = batch[:0]
		if err != nil {
			return fmt.Errorf("xz -d: %v: %s", err, out)
		}
		return nil
	}
	for name, rel := range t.files {
		// A link: xz -d writes the module beside it and removes it (-f:
		// it has two names).
		copyPath := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(copyPath), 0o755); err != nil {
			return nil, err
		}
		if err := os.Link(filepath.Join(t.dir, filepath.FromSlash(rel)), copyPath); err != nil {
			return nil, err
		}
		plain.files[name] = rel
		if !strings.HasSuffix(rel, ".xz") {
			continue
		}
		plain.files[name] = strings.TrimSuffix(rel, ".xz")
		if batch = append(batch, copyPath); len(batch) == 500 {
			if err := run(); err != nil {
				return nil, err
			}
		}
	}
	if err := run(); err != nil {
		return nil, err
	}
	return plain, nil
}

// loadOrder is what module name needs, directly or not, each after what
// it needs, name itself left out; built-in ones are left out too.
func loadOrder(name string, deps map[string][]string, t *moduleTree) ([]string, error) {
	order, err := t.orderBy([]string{name}, func(n string) ([]string, error) { return deps[n], nil })
	if err != nil || len(order) == 0 {
		return nil, err
	}
	return order[:len(order)-1], nil
}
