package kernel

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
)

// BenchmarkWarmKernelEntry is what every run pays to check a cached x86
// kernel before booting it: an 8 MB vmlinuz, its config and kernel.json,
// and the 60 MB vmlinux unpacked from it, each against its manifest.
func BenchmarkWarmKernelEntry(b *testing.B) {
	c := &cache.Cache{Dir: b.TempDir()}
	ctx := context.Background()
	random := func(n int) []byte {
		data := make([]byte, n)
		rand.Read(data)
		return data
	}
	dir := c.Path("kernels", strings.Repeat("ab", 32))
	_, err := c.File(ctx, "kernel", dir, "kernel", func(tmp string) (string, error) {
		entry := filepath.Join(tmp, "entry")
		return entry, writeKernel(entry, &Kernel{Package: "linux-image-x"}, &archive.BootFiles{Vmlinuz: random(8 << 20), Config: random(300 << 10)})
	})
	if err != nil {
		b.Fatal(err)
	}
	vmlinux := filepath.Join(dir, "vmlinux")
	_, err = c.File(ctx, "vmlinux", vmlinux, "vmlinux", func(tmp string) (string, error) {
		out := filepath.Join(tmp, "vmlinux")
		return out, os.WriteFile(out, random(60<<20), 0o644)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(68<<20 + 300<<10)
	for b.Loop() {
		if err := c.Check(dir, "kernel"); err != nil {
			b.Fatal(err)
		}
		if err := c.Check(vmlinux, "vmlinux"); err != nil {
			b.Fatal(err)
		}
	}
}
