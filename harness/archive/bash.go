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
	"slices"
	"strings"
)

// BashSuites are where a foreign arch guest's /bin/bash comes from: the
// first with the arch (riscv64 is Debian's from trixie on). The oldest
// first, so that its C library needs are met by the host's cross C
// library (Debian 12's 2.36, Ubuntu 22.04's 2.35).
var BashSuites = []string{"bookworm", "trixie"}

// Bash returns a directory holding Debian's bash for debArch ("bash",
// executable), the one library it needs beyond the C library
// ("lib/libtinfo.so.6") and the C library of the same suite with its
// dynamic loader ("libc/libc.so.6", "libc/ld-....so.N"): from the first
// of BashSuites with the arch, its bash, libtinfo6 and libc6 packages,
// verified like kernels and cached by the packages' hashes. Programs
// under test open /bin/bash to probe it (cilium/ebpf's uprobe tests do);
// a guest whose arch is not the host's cannot run the host's.
func (f *Fetcher) Bash(ctx context.Context, debArch string) (string, error) {
	suite := ""
	for _, s := range BashSuites {
		rel, err := f.Release(ctx, s)
		if err != nil {
			return "", err
		}
		if rel.HasArch(debArch) {
			suite = s
			break
		}
	}
	if suite == "" {
		return "", fmt.Errorf("none of %s has %s", strings.Join(BashSuites, ", "), debArch)
	}
	var pkgs [3]Package
	names := []string{"bash", "libtinfo6", "libc6"}
	index, err := f.PackagesNamed(ctx, suite, debArch, names...)
	if err != nil {
		return "", err
	}
	for i, name := range names {
		if pkgs[i], err = FindPackage(index, name); err != nil {
			return "", fmt.Errorf("%s %s: %w", suite, debArch, err)
		}
	}
	var from []string
	for _, p := range pkgs {
		from = append(from, fmt.Sprintf("%s %s (sha256 %s)", p.Name, p.Version, p.SHA256))
	}
	sum := sha256.Sum256([]byte(strings.Join(from, "\n")))
	key := hex.EncodeToString(sum[:])
	dir := f.Cache.Path("tools", "bash-"+debArch+"-"+key)
	_, err = f.Cache.File(ctx, "bash-"+key[:16], dir, strings.Join(from, ", ")+" for "+debArch, func(tmp string) (string, error) {
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
	// The cache keeps contents, not modes: the kernel execs bash and
	// maps the loader only when they are executable.
	loaders, _ := filepath.Glob(filepath.Join(dir, "libc", "ld*"))
	for _, p := range append(loaders, filepath.Join(dir, "bash")) {
		if err := os.Chmod(p, 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// extractBash takes from the package pkg at deb the files Bash keeps:
// bash's /bin/bash (/usr/bin/bash after usrmerge) as out/bash;
// libtinfo6's libtinfo.so.6.N, from its multiarch directory, as
// out/lib/libtinfo.so.6 (its soname); libc6's libc.so.6 and dynamic
// loader (ld-*.so.N) as out/libc/NAME.
func extractBash(deb, pkg, out string) error {
	r, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer r.Close()
	var found []string
	err = WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
		if hdr.Typeflag != tar.TypeReg || hdr.Size > maxExtract {
			return nil
		}
		base := path.Base(name)
		inLib := strings.HasPrefix(name, "lib") || strings.HasPrefix(name, "usr/lib")
		var dest string
		switch {
		case pkg == "bash" && (name == "bin/bash" || name == "usr/bin/bash"):
			dest = filepath.Join(out, "bash")
		case pkg == "libtinfo6" && inLib && strings.HasPrefix(base, "libtinfo.so.6."):
			dest = filepath.Join(out, "lib", "libtinfo.so.6")
		case pkg == "libc6" && inLib && !strings.Contains(name, "/gconv/") &&
			(base == "libc.so.6" || strings.HasPrefix(base, "ld") && strings.Contains(base, ".so.")):
			dest = filepath.Join(out, "libc", base)
		default:
			return nil
		}
		if slices.Contains(found, dest) {
			return fmt.Errorf("two files for %s", path.Base(dest))
		}
		found = append(found, dest)
		return WriteFrom(dest, body)
	})
	want := map[string]int{"bash": 1, "libtinfo6": 1, "libc6": 2}[pkg]
	if err == nil && len(found) != want {
		err = fmt.Errorf("%d of the %d files ksystest takes from it", len(found), want)
	}
	return err
}
