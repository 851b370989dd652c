package kernel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/kernelbtf"
)

// OwnBTF returns the path of the BTF the kernel carries
// (CONFIG_DEBUG_INFO_BTF=y), taken out of its image once and cached by the
// package's hash, so the host can read prototypes and types without
// booting it. Kernels without their own BTF give kernelbtf.ErrNoBTF.
func OwnBTF(ctx context.Context, c *cache.Cache, k *Kernel) (string, error) {
	if !k.HasOwnBTF() {
		return "", kernelbtf.ErrNoBTF
	}
	path := c.Path("btf", "own-"+k.SHA256+".btf")
	from := "the BTF in " + k.Package + " " + k.Version + " (sha256 " + k.SHA256 + ")"
	_, err := c.File(ctx, "ownbtf-"+k.SHA256[:16], path, from, func(tmp string) (string, error) {
		img := cmp.Or(k.Vmlinux, k.ELF, k.Vmlinuz) // an ELF finds its .BTF section at once
		data, err := os.ReadFile(img)
		if err != nil {
			return "", err
		}
		found, err := kernelbtf.Find(data)
		if errors.Is(err, kernelbtf.ErrNoBTF) && img == k.Vmlinuz {
			// An x86 bzImage's payload is xz with the x86 branch filter,
			// which Find does not decode: the ELF inside has the BTF.
			if elf, uerr := VmlinuxFromBzImage(ctx, data); uerr == nil {
				found, err = kernelbtf.Find(elf)
			}
		}
		if err != nil {
			return "", fmt.Errorf("BTF of %s: %w", k.Package, err)
		}
		out := filepath.Join(tmp, "own.btf")
		return out, os.WriteFile(out, found.BTF, 0o644)
	})
	return path, err
}
