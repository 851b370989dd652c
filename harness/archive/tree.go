package archive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Tree returns a directory holding the files under sub (relative to /)
// of Debian's package pkg in suite, for debArch: fetched and verified as
// kernels are, extracted once and cached by the package's hash. ksystest
// takes libbpf's headers this way, to compile users' BPF sources.
func (f *Fetcher) Tree(ctx context.Context, suite, debArch, pkg, sub string) (string, error) {
	if err := CheckPackage(pkg); err != nil {
		return "", err
	}
	pkgs, err := f.Packages(ctx, suite, debArch, pkg)
	if err != nil {
		return "", err
	}
	p, err := FindPackage(pkgs, pkg)
	if err != nil {
		return "", fmt.Errorf("suite %s, %s: %w", suite, debArch, err)
	}
	dir := f.Cache.Path("trees", p.SHA256)
	from := fmt.Sprintf("/%s of %s %s (sha256 %s)", sub, p.Name, p.Version, p.SHA256)
	_, err = f.Cache.File(ctx, "tree-"+p.SHA256[:16], dir, from, func(tmp string) (string, error) {
		deb := filepath.Join(tmp, "pkg.deb")
		f.Log("downloading %s %s (%d KiB)", p.Name, p.Version, p.Size>>10)
		if err := f.DownloadPackage(ctx, p, deb); err != nil {
			return "", err
		}
		r, err := os.Open(deb)
		if err != nil {
			return "", err
		}
		defer r.Close()
		out := filepath.Join(tmp, "tree")
		if _, err := ExtractTree(r, sub, out); err != nil {
			return "", fmt.Errorf("%s: %w", p.Name, err)
		}
		return out, nil
	})
	return dir, err
}
