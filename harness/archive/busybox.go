package archive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BusyboxSuite is where the guest shell's busybox comes from when the
// target names no suite of this archive (a local kernel, an Ubuntu one).
const BusyboxSuite = "bookworm"

// Busybox returns a static busybox for debArch from Debian's
// busybox-static package of suite (a backports suite's base suite: it has
// none of its own), verified like kernels and cached by the package's
// hash.
func (f *Fetcher) Busybox(ctx context.Context, suite, debArch string) (string, error) {
	for _, d := range Distros {
		if d != f.distro() && d.OwnsSuite(suite) {
			suite = ""
		}
	}
	if suite == "" {
		suite = BusyboxSuite
	}
	suite = strings.TrimSuffix(suite, "-backports")
	pkgs, err := f.Packages(ctx, suite, debArch, "busybox-static")
	if err != nil {
		return "", err
	}
	p, err := FindPackage(pkgs, "busybox-static")
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", suite, debArch, err)
	}
	path := f.Cache.Path("tools", "busybox-"+p.SHA256)
	_, err = f.Cache.File(ctx, "busybox-"+p.SHA256[:16], path, p.Origin(), func(tmp string) (string, error) {
		deb := filepath.Join(tmp, "busybox.deb")
		f.Log("downloading %s %s for %s (%d KiB)", p.Name, p.Version, debArch, p.Size>>10)
		if err := f.DownloadPackage(ctx, p, deb); err != nil {
			return "", err
		}
		bin := filepath.Join(tmp, "busybox")
		var err error
		// Debian 13 moved it to /usr/bin (usrmerge).
		for _, name := range []string{"bin/busybox", "usr/bin/busybox"} {
			if err = extractFrom(deb, name, bin); err == nil {
				break
			}
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", p.Name, err)
		}
		return bin, nil
	})
	return path, err
}

func extractFrom(deb, name, dest string) error {
	r, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer r.Close()
	return ExtractFile(r, name, dest)
}
