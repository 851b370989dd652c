package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// BashSuite is where a foreign arch guest's /bin/bash comes from: the
// oldest suite with every arch, so its C library needs are met by any
// host's cross C library (Debian 12's 2.36, Ubuntu 22.04's 2.35).
const BashSuite = "bookworm"

// Bash returns a directory holding Debian's bash for debArch ("bash",
// executable) and the one library it needs beyond the C library
// ("lib/libtinfo.so.6"): from BashSuite's bash and libtinfo6 packages,
// verified like kernels and cached by both packages' hashes. Programs
// under test open /bin/bash to probe it (cilium/ebpf's uprobe tests do);
// a guest whose arch is not the host's cannot run the host's.
func (f *Fetcher) Bash(ctx context.Context, debArch string) (string, error) {
	var pkgs [2]Package
	for i, name := range []string{"bash", "libtinfo6"} {
		index, err := f.Packages(ctx, BashSuite, debArch, name)
		if err != nil {
			return "", err
		}
		if pkgs[i], err = FindPackage(index, name); err != nil {
			return "", fmt.Errorf("%s %s: %w", BashSuite, debArch, err)
		}
	}
	sum := sha256.Sum256([]byte(pkgs[0].SHA256 + "\n" + pkgs[1].SHA256))
	key := hex.EncodeToString(sum[:])
	dir := f.Cache.Path("tools", "bash-"+debArch+"-"+key)
	from := fmt.Sprintf("%s %s (sha256 %s) and %s %s (sha256 %s) for %s", pkgs[0].Name, pkgs[0].Version, pkgs[0].SHA256,
		pkgs[1].Name, pkgs[1].Version, pkgs[1].SHA256, debArch)
	_, err := f.Cache.File(ctx, "bash-"+key[:16], dir, from, func(tmp string) (string, error) {
		out := filepath.Join(tmp, "bash")
		for _, p := range pkgs {
			deb := filepath.Join(tmp, p.Name+".deb")
			f.Log("downloading %s %s for %s (%d KiB)", p.Name, p.Version, debArch, p.Size>>10)
			if err := f.DownloadPackage(ctx, p, deb); err != nil {
				return "", err
			}
			if err := extractBash(deb, p.Name, out); err != nil {
				return "", fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		return out, nil
	})
	if err != nil {
		return "", err
	}
	// The cache keeps contents, not modes.
	return dir, os.Chmod(filepath.Join(dir, "bash"), 0o755)
}

// extractBash takes from the package pkg at deb the file Bash keeps:
// bash's /bin/bash (/usr/bin/bash after usrmerge) as out/bash, or
// libtinfo6's libtinfo.so.6.N, from its multiarch directory, as
// out/lib/libtinfo.so.6 (its soname).
func extractBash(deb, pkg, out string) error {
	r, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer r.Close()
	found := false
	err = WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
		if hdr.Typeflag != tar.TypeReg || hdr.Size > maxExtract {
			return nil
		}
		var dest string
		switch {
		case pkg == "bash" && (name == "bin/bash" || name == "usr/bin/bash"):
			dest = filepath.Join(out, "bash")
		case pkg == "libtinfo6" && strings.HasPrefix(path.Base(name), "libtinfo.so.6.") &&
			(strings.HasPrefix(name, "lib/") || strings.HasPrefix(name, "usr/lib/")):
			dest = filepath.Join(out, "lib", "libtinfo.so.6")
		default:
			return nil
		}
		if err := WriteFrom(dest, body); err != nil {
			return err
		}
		found = true
		return StopWalk()
	})
	if err == nil && !found {
		err = fmt.Errorf("no %s in the package", map[string]string{"bash": "/bin/bash", "libtinfo6": "libtinfo.so.6"}[pkg])
	}
	return err
}
