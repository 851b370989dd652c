package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ksystest/ksystest/harness/archive"
)

// sourceArch is the Debian architecture whose index the source package is
// looked up in: it is Architecture: all, listed in every arch's index.
const sourceArch = "amd64"

// findSource returns the package called name from the first suite that
// carries it.
func findSource(ctx context.Context, f *archive.Fetcher, name string, suites []string) (archive.Package, string, error) {
	for _, suite := range suites {
		pkgs, err := f.Packages(ctx, suite, sourceArch, name)
		if err != nil {
			return archive.Package{}, "", err
		}
		p, err := archive.FindPackage(pkgs, name)
		if errors.Is(err, archive.ErrNoPackage) {
			continue
		}
		return p, suite, err
	}
	return archive.Package{}, "", fmt.Errorf("%w: %s in %s", archive.ErrNoPackage, name, strings.Join(suites, ", "))
}

// kernelTree returns a directory holding the files of the kernel source
// package p the generator reads (kept), taken out of its tarball once and
// cached by the package's hash and the selection.
func kernelTree(ctx context.Context, f *archive.Fetcher, p archive.Package, suite string) (string, error) {
	key := sha256.Sum256([]byte(strings.Join(sourceFiles, "\n") + "\n" + selection))
	dir := f.Cache.Path("syscall-tables", fmt.Sprintf("%s-%x", p.SHA256, key[:4]))
	_, err := f.Cache.File(ctx, "syscall-tables-"+p.SHA256[:16], dir, p.Name+" "+p.Version+" (sha256 "+p.SHA256+")", func(tmp string) (string, error) {
		deb := filepath.Join(tmp, p.Name+".deb")
		if _, err := f.FetchPackage(ctx, suite, sourceArch, p.Name, deb); err != nil {
			return "", err
		}
		r, err := os.Open(deb)
		if err != nil {
			return "", err
		}
		defer r.Close()
		tree := filepath.Join(tmp, "tree")
		tarball := "usr/src/" + p.Name + ".tar.xz"
		found := false
		err = archive.WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
			if name != tarball {
				return nil
			}
			found = true
			if err := extractSourceFiles(body, tree); err != nil {
				return fmt.Errorf("/%s: %w", tarball, err)
			}
			return archive.StopWalk()
		})
		if err == nil && !found {
			err = fmt.Errorf("no /%s in the package", tarball)
		}
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", p.Name, p.Version, err)
		}
		return tree, nil
	})
	return dir, err
}

// extractSourceFiles writes the files of a kernel source tarball (xz)
// that the generator reads (kept) into dir, without the tarball's top
// directory. A symbolic link (arm64's syscall_64.tbl) becomes a copy of
// the file it names, which must be kept too: the cache records regular
// files only.
func extractSourceFiles(xzTar io.Reader, dir string) error {
	dec, err := archive.NewXZReader(xzTar)
	if err != nil {
		return err
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	links := map[string]string{} // name → the name it links to
	tables := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		_, name, _ := strings.Cut(hdr.Name, "/")
		if strings.Contains(name, "..") || !mayKeep(name) {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			body, err := io.ReadAll(io.LimitReader(tr, maxSourceFile+1))
			if err != nil {
				return err
			}
			if len(body) > maxSourceFile {
				return fmt.Errorf("%s: more than %d bytes", name, maxSourceFile)
			}
			if !kept(name, body) {
				continue
			}
			if err := archive.WriteFrom(filepath.Join(dir, filepath.FromSlash(name)), bytes.NewReader(body)); err != nil {
				return err
			}
		case tar.TypeSymlink:
			target := path.Join(path.Dir(name), hdr.Linkname)
			if path.IsAbs(hdr.Linkname) || strings.HasPrefix(target, "../") {
				return fmt.Errorf("%s: link out of the tree to %s", name, hdr.Linkname)
			}
			links[name] = target
			continue
		default:
			continue
		}
		if isTableFile(name) {
			tables++
		}
	}
	for name, target := range links {
		body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(target)))
		if errors.Is(err, fs.ErrNotExist) {
			if isTableFile(name) {
				return fmt.Errorf("%s links to %s, which is not kept", name, target)
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := archive.WriteFrom(filepath.Join(dir, filepath.FromSlash(name)), bytes.NewReader(body)); err != nil {
			return err
		}
		if isTableFile(name) {
			tables++
		}
	}
	if tables == 0 {
		return errors.New("no syscall tables in it")
	}
	return nil
}

// maxSourceFile bounds one file read from the tarball into memory.
const maxSourceFile = 16 << 20

// isTableFile reports whether a file is one the syscall tables read.
func isTableFile(name string) bool {
	for _, pattern := range sourceFiles {
		if ok, _ := path.Match(pattern, name); ok {
			return true
		}
	}
	return false
}

// mayKeep reports whether a file of the tarball may be kept, from its
// name alone; kept decides with its text.
func mayKeep(name string) bool {
	return isTableFile(name) || paramsFile(name)
}

// kept reports whether extraction keeps a file.
func kept(name string, body []byte) bool {
	return isTableFile(name) || paramsFile(name) && keepSource(name, body)
}
