package kernel

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ksystestRecipe is ksystest's own BTF recipe, the file the binary
// embeds.
func ksystestRecipe(t testing.TB) *BTFRecipe {
	t.Helper()
	r, err := ReadBTFRecipe(os.DirFS("../.."), "images/btf.yaml")
	require.NoError(t, err)
	return r
}

// ksystest's recipe does what the code did before it was data.
func TestKsystestBTFRecipe(t *testing.T) {
	r := ksystestRecipe(t)
	assert.Equal(t, "linux-image-6.1.0-50-s390x-dbg", r.debugPackageOf("linux-image-6.1.0-50-s390x"))
	assert.Equal(t, "usr/lib/debug/boot/vmlinux-6.1.0-50-s390x", r.vmlinuxOf("6.1.0-50-s390x"))
	assert.Equal(t, []string{"--btf_encode_detached=/tmp/x/vmlinux.btf", "/tmp/x/vmlinux"},
		r.paholeArgs("/tmp/x/vmlinux.btf", "/tmp/x/vmlinux"))
}

func TestParseBTFRecipeStrict(t *testing.T) {
	good := `apiVersion: ksystest/v1
debugPackage: "{package}-dbg"
vmlinux: usr/lib/debug/boot/vmlinux-{release}
pahole: ["--btf_encode_detached={out}", "{vmlinux}"]
`
	for name, tc := range map[string]struct{ text, want string }{
		"unknown key":         {good + "jobs: 2\n", `btf.yaml:5: unknown field "jobs"`},
		"wrong type":          {strings.Replace(good, `vmlinux: usr/lib/debug/boot/vmlinux-{release}`, `vmlinux: [a, b]`, 1), `btf.yaml:3: `},
		"unknown placeholder": {strings.Replace(good, "{release}", "{version}", 1), `btf.yaml:3: vmlinux: {version}: want only {release}`},
		"no out":              {strings.Replace(good, `"--btf_encode_detached={out}", `, "", 1), `btf.yaml:4: pahole: no {out}`},
		"absolute vmlinux":    {strings.Replace(good, "vmlinux: usr", "vmlinux: /usr", 1), `btf.yaml:3: vmlinux: vmlinux "/usr/lib`},
		"package not plain":   {strings.Replace(good, "{package}-dbg", "{package}/dbg", 1), `btf.yaml:2: debugPackage: package "linux-image-6.1.0-50-s390x/dbg"`},
		"no package":          {strings.Replace(good, `debugPackage: "{package}-dbg"`+"\n", "", 1), `btf.yaml: debugPackage: no {package}`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseBTFRecipe("btf.yaml", []byte(tc.text))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := parseBTFRecipe("btf.yaml", []byte(good))
	require.NoError(t, err)
}

// BTF is made as the recipe says, and BTF a different recipe made is made
// again.
func TestKernelBTFFollowsTheRecipe(t *testing.T) {
	fakePahole(t)
	m := pvhKernelMirror(t)
	store := &cache.Cache{Dir: t.TempDir()}
	var logs archivetest.Log
	ctx := context.Background()
	f := testFetcher(m, store, &logs)
	k, err := f.Kernel(ctx, Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"})
	require.NoError(t, err)

	_, _, err = f.KernelBTF(ctx, k, "amd64", nil)
	assert.ErrorContains(t, err, "no BTF recipe")

	recipe := ksystestRecipe(t)
	b, path, err := f.KernelBTF(ctx, k, "amd64", recipe)
	require.NoError(t, err)
	assert.False(t, b.Cached)
	assert.Equal(t, archivetest.Kernel+"-dbg "+archivetest.Version, b.From)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "BTF\nvmlinux with debug info", string(data))

	other := *recipe
	other.Pahole = append(append([]string(nil), recipe.Pahole...), "--skip_encoding_btf_vars")
	b, _, err = testFetcher(m, store, &logs).KernelBTF(ctx, k, "amd64", &other)
	require.NoError(t, err)
	assert.False(t, b.Cached, "made again")
	assert.Contains(t, logs.String(), "cache: "+filepath.Join("btf", filepath.Base(path))+": made from ")
	b, _, err = testFetcher(m, store, &logs).KernelBTF(ctx, k, "amd64", &other)
	require.NoError(t, err)
	assert.True(t, b.Cached)
}

// BTF comes only from the debug package of the kernel's own build.
func TestKernelBTFRefusesAnotherBuildsDebugInfo(t *testing.T) {
	fakePahole(t)
	m := pvhKernelMirror(t)
	var logs archivetest.Log
	ctx := context.Background()
	k, err := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs).Kernel(ctx, Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"})
	require.NoError(t, err)
	k.Version = "6.1.8-1" // a locked kernel the index has moved on from

	_, _, err = testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs).KernelBTF(ctx, k, "amd64", ksystestRecipe(t))
	assert.EqualError(t, err, "BTF for "+archivetest.Kernel+": the kernel has no BTF, and bookworm's index has "+archivetest.Kernel+"-dbg "+
		archivetest.Version+", not 6.1.8-1: its types would not be the kernel's")
	assert.Zero(t, m.HitsOf(debPath("dbg")))
}
