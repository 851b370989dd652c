package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// BusyboxSuite is where the guest shell's busybox comes from.
const BusyboxSuite = "bookworm"

// Busybox returns a static busybox for debArch from Debian's
// busybox-static package, verified like kernels and cached by the
// package's hash.
func (f *Fetcher) Busybox(ctx context.Context, debArch string) (string, error) {
	pkgs, err := f.Packages(ctx, BusyboxSuite, debArch, "busybox-static")
	if err != nil {
		return "", err
	}
	p, err := FindPackage(pkgs, "busybox-static")
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", BusyboxSuite, debArch, err)
	}
	path := f.Cache.Path("tools", "busybox-"+p.SHA256)
	_, err = f.Cache.File(ctx, "busybox-"+p.SHA256[:16], path, p.origin(), func(tmp string) (string, error) {
		deb := filepath.Join(tmp, "busybox.deb")
		f.logf("downloading %s %s for %s (%d KiB)", p.Name, p.Version, debArch, p.Size>>10)
		if err := f.Download(ctx, f.Mirror+"/"+p.Filename, FileSum{SHA256: p.SHA256, Size: p.Size}, deb); err != nil {
			return "", err
		}
		r, err := os.Open(deb)
		if err != nil {
			return "", err
		}
		defer r.Close()
		bin := filepath.Join(tmp, "busybox")
		if err := ExtractFile(r, "bin/busybox", bin); err != nil {
			return "", fmt.Errorf("%s: %w", p.Name, err)
		}
		return bin, nil
	})
	return path, err
}
