package kernel

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"testing"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeModule is a relocatable ELF with only a .modinfo section, which is
// all Modules reads of a module.
func fakeModule(t *testing.T, info ...string) []byte {
	var modinfo []byte
	for _, kv := range info {
		modinfo = append(append(modinfo, kv...), 0)
	}
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	infoOff := uint64(ehsize)
	strOff := infoOff + uint64(len(modinfo))
	shoff := strOff + uint64(len(shstrtab))
	var b bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shoff, Ehsize: ehsize, Shentsize: shentsize, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	require.NoError(t, binary.Write(&b, binary.LittleEndian, hdr))
	b.Write(modinfo)
	b.Write(shstrtab)
	for _, sh := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Off: infoOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstrtab)), Addralign: 1},
	} {
		require.NoError(t, binary.Write(&b, binary.LittleEndian, sh))
	}
	return b.Bytes()
}

// The modules a set asks for come out of the kernel's own package,
// decompressed, after those they depend on; built-in ones are left out,
// and the set is cached.
func TestModulesFromThePackage(t *testing.T) {
	mod := func(name string, info ...string) archivetest.TarEntry {
		return archivetest.TarEntry{Name: "./lib/modules/" + archivetest.Release + "/kernel/" + name, Body: string(fakeModule(t, info...))}
	}
	xzMod := mod("fs/9p/9p.ko.xz", "name=9p", "depends=9pnet,netfs")
	xzMod.Body = string(archivetest.XZ(t, []byte(xzMod.Body)))
	deb := archivetest.BuildDeb(t, "xz",
		archivetest.TarEntry{Name: "./boot/config-" + archivetest.Release, Body: "CONFIG_9P_FS=m\n"},
		archivetest.TarEntry{Name: "./boot/vmlinuz-" + archivetest.Release, Body: "KERNEL"},
		xzMod,
		mod("net/9p/9pnet.ko", "name=9pnet", "depends="),
		mod("net/9p/9pnet_virtio.ko", "name=9pnet_virtio", "depends=9pnet,virtio_ring"),
		mod("fs/netfs/netfs.ko", "depends="),
		mod("drivers/virtio/virtio-ring.ko", "depends="),
		archivetest.TarEntry{Name: "./lib/modules/" + archivetest.Release + "/modules.builtin", Body: "kernel/drivers/virtio/virtio_pci.ko\n"},
	)
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", []archivetest.Package{
		{Name: "linux-image-amd64", Version: "9", Depends: archivetest.Kernel + " (= " + archivetest.Version + ")"},
		{Name: archivetest.Kernel, Version: archivetest.Version, Deb: deb},
	})
	store := &cache.Cache{Dir: t.TempDir()}
	var logs archivetest.Log
	ctx := context.Background()
	ref := Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}
	k, err := testFetcher(m, store, &logs).Kernel(ctx, ref)
	require.NoError(t, err)

	set, err := testFetcher(m, store, &logs).Modules(ctx, k, []string{"9pnet_virtio", "9p", "virtio_pci"})
	require.NoError(t, err)
	assert.Equal(t, []string{"9pnet", "netfs", "9p", "virtio_ring", "9pnet_virtio"}, set.Order)
	ko, err := os.ReadFile(set.Path("9p"))
	require.NoError(t, err)
	assert.Equal(t, fakeModule(t, "name=9p", "depends=9pnet,netfs"), ko, "decompressed")

	m.Close()
	again, err := testFetcher(m, store, &logs).Modules(ctx, k, []string{"9p", "9pnet_virtio", "virtio_pci"})
	require.NoError(t, err, "cached: the mirror is gone")
	assert.Equal(t, set, again)

	_, err = testFetcher(m, store, &logs).Modules(ctx, &Kernel{}, []string{"9p"})
	assert.ErrorIs(t, err, ErrNoModules)
}

func TestModulesSayWhatIsMissing(t *testing.T) {
	tree := &moduleTree{dir: t.TempDir(), files: map[string]string{}, builtin: map[string]bool{"virtio": true}}
	write := func(name string, info ...string) {
		require.NoError(t, os.WriteFile(tree.dir+"/"+name+".ko", fakeModule(t, info...), 0o644))
		tree.files[name] = name + ".ko"
	}
	write("a", "depends=b")
	write("loop1", "depends=loop2")
	write("loop2", "depends=loop1")
	write("bad", "depends=../x")

	order, err := tree.order([]string{"virtio"})
	require.NoError(t, err)
	assert.Empty(t, order, "built in")
	_, err = tree.order([]string{"nine"})
	assert.EqualError(t, err, "the kernel has no module nine, and does not have it built in")
	_, err = tree.order([]string{"a"})
	assert.EqualError(t, err, "module b, which a depends on, is not in the package")
	_, err = tree.order([]string{"loop1"})
	assert.EqualError(t, err, "module loop1 depends on itself through loop2")
	_, err = tree.order([]string{"bad"})
	assert.ErrorContains(t, err, `bad dependency "../x"`)
}

func TestModuleNames(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/fs/9p/9p.ko.xz":             "9p",
		"kernel/net/9p/9pnet_virtio.ko":     "9pnet_virtio",
		"kernel/sound/snd-hda-intel.ko.zst": "snd_hda_intel",
		"kernel/x/y.ko.gz":                  "y",
		"modules.order":                     "",
		"kernel/x/.ko":                      "",
		"kernel/x/a b.ko":                   "",
	} {
		got, ok := moduleName(in)
		if want == "" {
			assert.False(t, ok, in)
			continue
		}
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
}
