package run

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ksystest/ksystest/harness/initramfs"
)

// DefaultTreeLimit bounds what exec copies of a directory into a guest:
// the initramfs is held in the guest's RAM twice while the kernel unpacks
// it (512 MiB by default).
const DefaultTreeLimit = 64 << 20

// TreeTooBigError means a directory holds more than exec copies.
type TreeTooBigError struct {
	Dir   string
	Limit int64
	// Largest is the biggest file seen before the limit was passed.
	Largest     string
	LargestSize int64
}

func (e *TreeTooBigError) Error() string {
	return fmt.Sprintf("%s holds more than the %s exec copies into the guest (the largest file seen: %s, %s): "+
		"run from a smaller directory, or raise --tree-limit", e.Dir, mib(e.Limit), e.Largest, mib(e.LargestSize))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// treeStats say what a copy of a directory holds.
type treeStats struct {
	Files int
	Bytes int64
}

// cpioOverhead is what a newc header and its padding cost per entry.
const cpioOverhead = 112

// treeFiles copies the directory dir (absolute, clean) into initramfs
// files at the same paths: dir itself, directories, regular files with their
// permission bits, and symlinks as they are. .git directories are left
// out, and so are sockets, FIFOs and devices, which a copy cannot carry.
// It fails once the copy would pass limit bytes (contents, names and
// headers).
func treeFiles(dir string, limit int64) ([]initramfs.File, treeStats, error) {
	var (
		files   []initramfs.File
		st      treeStats
		largest string
		lsize   int64
	)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" && path != dir {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := initramfs.File{Path: path, Mode: uint32(info.Mode().Perm())}
		if path == dir {
			// The program runs in it, empty or not.
			f.Dir = true
			files = append(files, f)
			return nil
		}
		switch {
		case d.IsDir():
			f.Dir = true
		case info.Mode()&fs.ModeSymlink != 0:
			if f.Symlink, err = os.Readlink(path); err != nil {
				return err
			}
			f.Mode = 0o777
		case info.Mode().IsRegular():
			if info.Size() > lsize {
				largest, lsize = path, info.Size()
			}
			if st.Bytes+info.Size() > limit {
				return &TreeTooBigError{Dir: dir, Limit: limit, Largest: largest, LargestSize: lsize}
			}
			if f.Data, err = os.ReadFile(path); err != nil {
				return err
			}
		default:
			return nil
		}
		st.Files++
		st.Bytes += int64(len(f.Data)+len(f.Symlink)+len(path)) + cpioOverhead
		if st.Bytes > limit {
			return &TreeTooBigError{Dir: dir, Limit: limit, Largest: largest, LargestSize: lsize}
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, st, fmt.Errorf("copy %s into the guest: %w", dir, err)
	}
	return files, st, nil
}

// reservedGuestPaths are where a guest keeps its own files or mounts
// filesystems: a copied directory or program cannot go there.
var reservedGuestPaths = []string{"/proc", "/sys", "/dev", "/ksystest", "/init", "/boot"}

// reservedGuestPath reports whether path is, or is under, a path the
// guest keeps for itself (or is the root).
func reservedGuestPath(path string) bool {
	if path == "/" {
		return true
	}
	for _, r := range reservedGuestPaths {
		if path == r || strings.HasPrefix(path, r+"/") {
			return true
		}
	}
	return false
}
