package kbtf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cacheDir is where ksystest caches kernels: image.DefaultCacheDir, which
// this package may not import.
func cacheDir() string {
	if d := os.Getenv("KSYSTEST_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "ksystest")
}

// cachedKernel is a kernel ksystest has downloaded: its directory, and
// what kernel.json says of it.
type cachedKernel struct {
	dir     string
	Package string `json:"package"`
	Release string `json:"release"`
}

func cachedKernels(t testing.TB) []cachedKernel {
	dirs, _ := filepath.Glob(filepath.Join(cacheDir(), "kernels", "*", "kernel.json"))
	var ks []cachedKernel
	for _, path := range dirs {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		k := cachedKernel{dir: filepath.Dir(path)}
		require.NoError(t, json.Unmarshal(data, &k), path)
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b cachedKernel) int { return strings.Compare(a.Package, b.Package) })
	return ks
}

// syscallBodies are the functions whose parameter order says which
// register holds which syscall argument.
var syscallBodies = []string{
	"__do_sys_clone", "__se_sys_clone", "__do_sys_splice", "__se_sys_splice",
	"__do_sys_mmap", "__se_sys_mmap", "__se_sys_connect", "__do_sys_write",
}

// cloneParams are clone's arguments, in one of the orders the kernel's
// CONFIG_CLONE_BACKWARDS* options give them.
var cloneParams = []string{"child_tidptr", "clone_flags", "newsp", "parent_tidptr", "tls"}

// TestCachedKernels runs Find and Parse on the kernels a run has cached,
// and logs what each holds (go test -v shows it). It checks what the
// kernel's config promises: BTF where CONFIG_DEBUG_INFO_BTF=y (in one of
// its files at least: an x86 bzImage is xz with a branch filter, which
// Find does not decode, so there the unpacked vmlinux has it), none where
// it is unset. A cache is not part of a checkout, so without one the test
// skips.
func TestCachedKernels(t *testing.T) {
	kernels := cachedKernels(t)
	if len(kernels) == 0 {
		t.Skipf("no kernels cached in %s: a ksystest run caches them", cacheDir())
	}
	for _, k := range kernels {
		t.Run(k.Release, func(t *testing.T) {
			config, err := os.ReadFile(filepath.Join(k.dir, "config"))
			require.NoError(t, err)
			hasBTF := slices.Contains(strings.Split(string(config), "\n"), "CONFIG_DEBUG_INFO_BTF=y")
			found := false
			for _, file := range []string{"vmlinuz", "vmlinux"} {
				image, err := os.ReadFile(filepath.Join(k.dir, file))
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				require.NoError(t, err)
				start := time.Now()
				f, err := Find(image)
				took := time.Since(start)
				if errors.Is(err, ErrNoBTF) {
					t.Logf("%s %s (%d MB): no BTF (%v)", k.Package, file, len(image)>>20, took.Round(time.Millisecond))
					continue
				}
				require.NoError(t, err, file)
				found = true
				t.Logf("%s %s (%d MB): %d bytes of %s BTF at %s, %d types, in %v",
					k.Package, file, len(image)>>20, len(f.BTF), f.Spec.ByteOrder(), f.Where, f.Spec.NumTypes(), took.Round(time.Millisecond))
				logBodies(t, f.Spec)
				checkClone(t, f.Spec)
				checkLittleEndian(t, f.BTF, f.Spec)
			}
			assert.Equal(t, hasBTF, found, "CONFIG_DEBUG_INFO_BTF=y is %v", hasBTF)
		})
	}
}

// TestCachedPaholeBTF parses the BTF ksystest generated with pahole for
// kernels built without their own, named after their -dbg package.
func TestCachedPaholeBTF(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(cacheDir(), "btf", "*-pahole-*.btf"))
	if len(files) == 0 {
		t.Skipf("no pahole BTF cached in %s: a run for a kernel without BTF makes one", cacheDir())
	}
	names := dbgPackages(t)
	for _, path := range files {
		sha, _, _ := strings.Cut(filepath.Base(path), "-")
		t.Run(sha[:12], func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			f, err := Find(data)
			require.NoError(t, err)
			assert.Equal(t, data, f.BTF, "a detached blob is found whole")
			t.Logf("%s (%s): %d bytes of %s BTF, %d types", names[sha], filepath.Base(path), len(data), f.Spec.ByteOrder(), f.Spec.NumTypes())
			logBodies(t, f.Spec)
			checkClone(t, f.Spec)
			checkLittleEndian(t, f.BTF, f.Spec)
		})
	}
}

// dbgPackages maps a -dbg package's SHA256 to its name, from the package
// index entries a run cached.
func dbgPackages(t testing.TB) map[string]string {
	names := map[string]string{}
	paths, _ := filepath.Glob(filepath.Join(cacheDir(), "index", "*-dbg.json"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		var pkgs []struct{ Name, Version, SHA256 string }
		require.NoError(t, json.Unmarshal(data, &pkgs), path)
		for _, p := range pkgs {
			names[p.SHA256] = p.Name + " " + p.Version
		}
	}
	return names
}

// syscallPrefixes name the layers of a syscall: the arch's entry taking
// pt_regs, the sign-extending wrapper, the body.
var syscallPrefixes = []string{"__x64_sys_", "__arm64_sys_", "__s390x_sys_", "sys_", "__se_sys_", "__do_sys_"}

func logBodies(t *testing.T, s *Spec) {
	t.Helper()
	var counts []string
	for _, p := range syscallPrefixes {
		if n := len(s.Funcs(p)); n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s*", n, p))
		}
	}
	t.Logf("    functions: %s", strings.Join(counts, ", "))
	for _, name := range syscallBodies {
		if params, ok := s.Prototype(name); ok {
			t.Logf("    %s(%s)", name, strings.Join(params, ", "))
		} else {
			t.Logf("    %s: none", name)
		}
	}
}

// checkClone checks that clone's body, when the BTF has it, takes clone's
// five arguments in some order, or the registers alone (s390x's
// __se_sys_clone(regs)).
func checkClone(t *testing.T, s *Spec) {
	t.Helper()
	for _, name := range []string{"__do_sys_clone", "__se_sys_clone"} {
		if params, ok := s.Prototype(name); ok && !slices.Equal(params, []string{"regs"}) {
			assert.ElementsMatch(t, cloneParams, params, name)
		}
	}
}

// checkLittleEndian converts a kernel's BTF and finds the same prototypes.
func checkLittleEndian(t *testing.T, blob []byte, want *Spec) {
	t.Helper()
	le, err := ToLittleEndian(blob)
	require.NoError(t, err)
	got, err := Parse(le)
	require.NoError(t, err)
	requireSameTypes(t, want, got)
	for _, name := range syscallBodies {
		w, _ := want.Prototype(name)
		g, _ := got.Prototype(name)
		assert.Equal(t, w, g, name)
	}
}
