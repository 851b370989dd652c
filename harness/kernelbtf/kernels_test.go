package kernelbtf

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

// kernelsIn lists the kernels under root, each a directory with
// kernel.json, config and vmlinuz or vmlinux: ksystest's cache
// (kernels/SHA256/) or the committed ones (testdata/kernels/RELEASE/).
func kernelsIn(t testing.TB, root string) []cachedKernel {
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "kernel.json"))
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

// TestCachedKernels runs Find and Parse on the committed kernels (see
// fixtures_test.go) and on those a run has cached, and logs what each
// holds (go test -v shows it). It checks what the kernel's config
// promises: BTF where CONFIG_DEBUG_INFO_BTF=y (in one of its files at
// least: an x86 bzImage is xz with a branch filter, which Find does not
// decode, so there the unpacked vmlinux has it), none where it is unset;
// and that Find, Parse and Prototype make of the committed kernels what
// they made when those were cut (find.txt).
func TestCachedKernels(t *testing.T) {
	committed := kernelsIn(t, fixtureDir)
	require.NotEmpty(t, committed, "no kernels in %s", fixtureDir)
	for _, k := range committed {
		t.Run("testdata/"+k.Release, func(t *testing.T) {
			checkKernel(t, k)
			assert.Equal(t, string(mustRead(t, filepath.Join(k.dir, "find.txt"))), findSummary(t, k.dir))
		})
	}
	for _, k := range kernelsIn(t, filepath.Join(cacheDir(), "kernels")) {
		t.Run("cache/"+k.Release, func(t *testing.T) { checkKernel(t, k) })
	}
}

func checkKernel(t *testing.T, k cachedKernel) {
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
}

// TestCachedPaholeBTF parses the BTF ksystest generated with pahole for
// kernels built without their own: the committed ones, named after their
// -dbg package, and those a run has cached.
func TestCachedPaholeBTF(t *testing.T) {
	dir := filepath.Join(fixtureDir, "pahole")
	committed, _ := filepath.Glob(filepath.Join(dir, "*.btf"))
	require.NotEmpty(t, committed, "no pahole BTF in %s", dir)
	assert.Equal(t, string(mustRead(t, filepath.Join(dir, "find.txt"))), paholeSummary(t, dir))
	for _, path := range committed {
		name := strings.TrimSuffix(filepath.Base(path), ".btf")
		t.Run("testdata/"+name, func(t *testing.T) { checkPahole(t, path, name) })
	}
	files, _ := filepath.Glob(filepath.Join(cacheDir(), "btf", "*-pahole-*.btf"))
	for _, path := range files {
		t.Run("cache/"+filepath.Base(path)[:12], func(t *testing.T) { checkPahole(t, path, paholeFrom(t, path)) })
	}
}

func checkPahole(t *testing.T, path, name string) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := Find(data)
	require.NoError(t, err)
	assert.Equal(t, data, f.BTF, "a detached blob is found whole")
	t.Logf("%s (%s): %d bytes of %s BTF, %d types", name, filepath.Base(path), len(data), f.Spec.ByteOrder(), f.Spec.NumTypes())
	logBodies(t, f.Spec)
	checkClone(t, f.Spec)
	checkLittleEndian(t, f.BTF, f.Spec)
}

// paholeFrom is the -dbg package and version a cached pahole BTF was
// made from, as its cache manifest says ("" when it says nothing).
func paholeFrom(t testing.TB, path string) string {
	data, err := os.ReadFile(path + ".manifest")
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	var m struct{ From string }
	require.NoError(t, json.Unmarshal(data, &m), path)
	if f := strings.Fields(m.From); len(f) >= 2 {
		return f[0] + " " + f[1]
	}
	return ""
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
