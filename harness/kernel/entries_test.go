package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePahole puts a pahole on PATH that says it is v1.24 and "encodes" a
// vmlinux by copying it behind a header, so the BTF path runs without
// debug info. Tests that use it cannot be parallel (PATH).
func fakePahole(t *testing.T) {
	dir := t.TempDir()
	script := `#!/bin/sh
case "$1" in
--version) echo v1.24 ;;
--btf_encode_detached=*) { echo BTF; cat "$2"; } > "${1#--btf_encode_detached=}" ;;
*) exit 2 ;;
esac
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pahole"), []byte(script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// pvhKernelMirror publishes a kernel without BTF that can boot its vmlinux
// (CONFIG_PVH), its -dbg package, and busybox-static: one of every kind of
// cache entry.
func pvhKernelMirror(t *testing.T) *archivetest.Mirror {
	elf := append([]byte("\x7fELF"), bytes.Repeat([]byte("kernel text "), 1000)...)
	var payload bytes.Buffer
	zw, err := zstd.NewWriter(&payload)
	require.NoError(t, err)
	zw.Write(elf)
	require.NoError(t, zw.Close())
	bz := fakeBzImage(t, payload.Bytes())

	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", []archivetest.Package{
		{Name: "linux-image-amd64", Version: "9", Depends: archivetest.Kernel},
		{Name: archivetest.Kernel, Version: archivetest.Version, Deb: archivetest.KernelDeb(t, archivetest.Release, string(bz), "CONFIG_PVH=y\n")},
		{Name: archivetest.Kernel + "-dbg", Version: archivetest.Version, Deb: archivetest.BuildDeb(t, "xz",
			archivetest.TarEntry{Name: "./usr/lib/debug/boot/vmlinux-" + archivetest.Release, Body: "vmlinux with debug info"})},
		{Name: "busybox-static", Version: "1.35.0-4", Deb: archivetest.BuildDeb(t, "xz",
			archivetest.TarEntry{Name: "./bin/busybox", Body: "busybox binary"})},
	})
	return m
}

// entries holds the paths of every kind of entry, as a run gets them.
type entries struct {
	k       *Kernel
	btf     string
	busybox string
}

func getEntries(t *testing.T, f Archive) entries {
	ctx := context.Background()
	k, err := f.Kernel(ctx, Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64", UnpackBzImage: true})
	require.NoError(t, err)
	require.NotEmpty(t, k.Vmlinux, "vmlinux unpacked")
	_, btf, err := f.KernelBTF(ctx, k, "amd64", ksystestRecipe(t))
	require.NoError(t, err)
	bb, err := f.Busybox(ctx, "", "amd64")
	require.NoError(t, err)
	return entries{k: k, btf: btf, busybox: bb}
}

// Every kind of cache entry damaged or edited is said, made again and
// never handed out: the next run gets the same bytes as the first.
func TestDamagedCacheEntriesAreMadeAgain(t *testing.T) {
	fakePahole(t)
	m := pvhKernelMirror(t)
	store := &cache.Cache{Dir: t.TempDir()}
	var logs archivetest.Log
	first := getEntries(t, testFetcher(m, store, &logs))
	snapshot := map[string][]byte{}
	for _, p := range []string{first.k.Vmlinuz, first.k.Config, first.k.Vmlinux, first.btf, first.busybox,
		filepath.Join(filepath.Dir(first.k.Vmlinuz), "kernel.json")} {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		snapshot[p] = data
	}
	kernelDir := filepath.Dir(first.k.Vmlinuz)
	rel := func(p string) string { r, _ := filepath.Rel(store.Dir, p); return r }
	flip := func(p string) {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		data[len(data)/2] ^= 1
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	truncate := func(p string) { require.NoError(t, os.Truncate(p, 3)) }
	// A cache entry's manifest lies beside it (ENTRY.manifest).
	editFrom := func(p string, edit func(from string) string) {
		data, err := os.ReadFile(p + ".manifest")
		require.NoError(t, err)
		var mf map[string]any
		require.NoError(t, json.Unmarshal(data, &mf))
		mf["from"] = edit(mf["from"].(string))
		data, err = json.Marshal(mf)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p+".manifest", data, 0o644))
	}

	for _, c := range []struct {
		name     string
		damage   func()
		log      string
		download string // what must be downloaded again, if anything
	}{
		{"truncated vmlinuz", func() { truncate(first.k.Vmlinuz) },
			"cache: " + rel(first.k.Vmlinuz) + ": 3 bytes, want", "kernel"},
		{"one byte of the config", func() { flip(first.k.Config) },
			"cache: " + rel(first.k.Config) + ": sha256 ", "kernel"},
		{"kernel.json names another package", func() {
			p := filepath.Join(kernelDir, "kernel.json")
			data, _ := os.ReadFile(p)
			require.NoError(t, os.WriteFile(p, bytes.Replace(data, []byte("6.1.9-1"), []byte("6.1.7-1"), 1), 0o644))
		}, "cache: " + rel(kernelDir) + "/kernel.json: sha256 ", "kernel"},
		{"manifest of another version", func() {
			editFrom(kernelDir, func(from string) string { return strings.Replace(from, archivetest.Version, "6.1.7-1", 1) })
		}, "cache: " + rel(kernelDir) + ": made from " + archivetest.Kernel + " 6.1.7-1", "kernel"},
		{"no manifest", func() { require.NoError(t, os.Remove(kernelDir+".manifest")) },
			"cache: " + rel(kernelDir) + ": no manifest", "kernel"},
		{"vmlinux", func() { flip(first.k.Vmlinux) },
			"cache: " + rel(first.k.Vmlinux) + ": sha256 ", ""},
		{"one field of the BTF", func() { flip(first.btf) },
			"cache: " + rel(first.btf) + ": sha256 ", "dbg"},
		{"busybox", func() { truncate(first.busybox) },
			"cache: " + rel(first.busybox) + ": 3 bytes, want", "busybox"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := map[string]int{}
			for _, p := range []string{"kernel", "dbg", "busybox"} {
				before[p] = m.HitsOf(debPath(p))
			}
			c.damage()
			var logs archivetest.Log
			got := getEntries(t, testFetcher(m, store, &logs))
			assert.Contains(t, logs.String(), c.log)
			for p, want := range snapshot {
				data, err := os.ReadFile(p)
				require.NoError(t, err)
				assert.Equal(t, want, data, "%s as it was first", rel(p))
			}
			assert.Equal(t, first.k.Vmlinuz, got.k.Vmlinuz)
			assert.Equal(t, c.download != "kernel", got.k.Cached, "Cached says whether the kernel was downloaded")
			for _, p := range []string{"kernel", "dbg", "busybox"} {
				want := before[p]
				if p == c.download {
					want++
				}
				assert.Equal(t, want, m.HitsOf(debPath(p)), "downloads of %s", p)
			}
		})
	}
}

// debPath is where pvhKernelMirror serves each package.
func debPath(what string) string {
	name := map[string]string{"kernel": archivetest.Kernel, "dbg": archivetest.Kernel + "-dbg", "busybox": "busybox-static"}[what]
	version := map[string]string{"kernel": archivetest.Version, "dbg": archivetest.Version, "busybox": "1.35.0-4"}[what]
	return archivetest.Package{Name: name, Version: version}.Filename()
}
