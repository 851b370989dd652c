package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Ubuntu's archive keys, where the host has no ubuntu-keyring (Debian 12
// has it in bookworm-backports only): Debian's own ubuntu-keyring package,
// from a suite that has it, verified like every package through Debian's
// signed index, its keyring taken out into the cache. Debian's trust in
// that package is the trust a host that installed it would have.
var ubuntuKeyringSuites = []string{"trixie", "bookworm-backports"}

const (
	ubuntuKeyringPackage = "ubuntu-keyring"
	ubuntuKeyringInDeb   = "usr/share/keyrings/ubuntu-archive-keyring.gpg"
	maxKeyring           = 1 << 20
)

// hostDebArch is the Debian arch of the host's index to find an arch: all
// package in (every binary-ARCH index lists them).
func hostDebArch() string {
	switch runtime.GOARCH {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	case "mips64le":
		return "mips64el"
	}
	return runtime.GOARCH
}

// UbuntuKeyringFromDebian returns the path of Ubuntu's archive keyring
// taken out of Debian's ubuntu-keyring package, fetched (and cached) on
// first use.
func (f *Fetcher) UbuntuKeyringFromDebian(ctx context.Context) (string, error) {
	var errs []error
	for _, suite := range ubuntuKeyringSuites {
		pkgs, err := f.Packages(ctx, suite, hostDebArch(), ubuntuKeyringPackage)
		if err == nil {
			var p Package
			if p, err = FindPackage(pkgs, ubuntuKeyringPackage); err == nil {
				return f.ubuntuKeyring(ctx, p, suite)
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", suite, err))
	}
	return "", fmt.Errorf("Debian's %s package: %w", ubuntuKeyringPackage, errors.Join(errs...))
}

func (f *Fetcher) ubuntuKeyring(ctx context.Context, p Package, suite string) (string, error) {
	dir := f.Cache.Path("keyrings", p.SHA256[:16])
	path := filepath.Join(dir, filepath.Base(ubuntuKeyringInDeb))
	cached, err := f.Cache.File(ctx, "keyring-"+p.SHA256[:16], dir, p.Origin(), func(tmp string) (string, error) {
		deb := filepath.Join(tmp, "keyring.deb")
		if err := f.DownloadPackage(ctx, p, deb); err != nil {
			return "", err
		}
		r, err := os.Open(deb)
		if err != nil {
			return "", err
		}
		defer r.Close()
		var keyring []byte
		err = WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
			if name != ubuntuKeyringInDeb || hdr.Typeflag != tar.TypeReg {
				return nil
			}
			if hdr.Size > maxKeyring {
				return fmt.Errorf("%s: %d bytes, more than %d", name, hdr.Size, maxKeyring)
			}
			keyring, err = io.ReadAll(io.LimitReader(body, hdr.Size))
			if err != nil {
				return err
			}
			return StopWalk()
		})
		if err != nil {
			return "", err
		}
		if keyring == nil {
			return "", fmt.Errorf("%s %s has no %s", p.Name, p.Version, ubuntuKeyringInDeb)
		}
		entry := filepath.Join(tmp, "entry")
		if err := os.Mkdir(entry, 0o755); err != nil {
			return "", err
		}
		return entry, os.WriteFile(filepath.Join(entry, filepath.Base(ubuntuKeyringInDeb)), keyring, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("%s %s (%s): %w", p.Name, p.Version, suite, err)
	}
	if !cached {
		f.Log("Ubuntu's archive keyring from Debian's %s %s (%s), verified through Debian's signed index", p.Name, p.Version, suite)
	}
	return path, nil
}

// ubuntuKeyring is the keyring Ubuntu's fetcher verifies with: the one
// given, else the host's, else Debian's package's (UbuntuKeyringFromDebian).
func ubuntuKeyring(debian *Fetcher, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	if _, err := os.Stat(Ubuntu.DefaultKeyring); !errors.Is(err, fs.ErrNotExist) {
		return Ubuntu.DefaultKeyring, nil
	}
	path, err := debian.UbuntuKeyringFromDebian(context.Background())
	if err != nil {
		return "", fmt.Errorf("Ubuntu's archive keyring: the host has none (%s, package %s) and %w", Ubuntu.DefaultKeyring, Ubuntu.KeyringPackage, err)
	}
	return path, nil
}
