// Package standby is where the init of a saved guest (the agent, or the
// init of ksystest exec) waits for work: it brings the machine up to
// there, and, in each restored copy, takes the run's work (proto.Work):
// the clock and RNG set afresh, the run's files unpacked from the share
// into its root. The init then goes on as in a booted guest, whose
// initramfs held those files. Standard library and x/sys only.
package standby

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ksystest/ksystest/harness/initramfs/newc"
)

// Limits on an archive a guest unpacks: what a run ships (a test binary
// of tens of MB, a working directory) is far below them.
const (
	maxEntries       = 1 << 20
	maxBytes   int64 = 4 << 30
)

// Unpack writes the newc archive r into the directory root as the kernel
// unpacks an initramfs: directories, regular files, symlinks and device
// nodes, with their modes. What is there already is replaced, a running
// program's file too (a new file renamed over it); a directory or device
// node that exists is kept. mknod is os-specific, so it is given.
func Unpack(r io.Reader, root string, mknod func(path string, mode, major, minor uint32) error) (files int, bytes int64, err error) {
	cr := newc.NewReader(r)
	buf := make([]byte, 1<<20)
	for n := 0; ; n++ {
		h, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return files, bytes, nil
		}
		if err != nil {
			return files, bytes, err
		}
		if n >= maxEntries {
			return files, bytes, fmt.Errorf("more than %d entries", maxEntries)
		}
		if bytes += h.Size; bytes > maxBytes {
			return files, bytes, fmt.Errorf("more than %d bytes", maxBytes)
		}
		name := h.Name
		if name == "" || name == "." || path.Clean(name) != name || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return files, bytes, fmt.Errorf("cpio entry %q: not a clean relative path", name)
		}
		dest := filepath.Join(root, filepath.FromSlash(name))
		perm := fs.FileMode(h.Mode & 0o777)
		switch h.Mode & newc.TypeMask {
		case newc.TypeDir:
			if err := os.MkdirAll(dest, perm); err != nil {
				return files, bytes, err
			}
			err = os.Chmod(dest, perm|modeBits(h.Mode))
		case newc.TypeReg:
			err = writeFile(dest, cr, h.Mode&0o7777, buf)
			files++
		case newc.TypeSymlink:
			var target []byte
			if target, err = io.ReadAll(io.LimitReader(cr, newc.MaxName)); err == nil {
				os.Remove(dest)
				err = os.Symlink(string(target), dest)
			}
		case newc.TypeChar:
			err = mknod(dest, h.Mode, h.RMajor, h.RMin)
			if errors.Is(err, fs.ErrExist) {
				err = nil
			}
		default:
			err = fmt.Errorf("mode %o", h.Mode)
		}
		if err != nil {
			return files, bytes, fmt.Errorf("cpio entry %s: %w", name, err)
		}
	}
}

// writeFile writes a file through a new name renamed into place: a
// program that runs from the old one (the standby init, as /init) keeps
// its own copy.
func writeFile(dest string, r io.Reader, mode uint32, buf []byte) error {
	tmp := dest + ".ksystest-new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// Not io.Copy: *os.File's ReadFrom copies in 32 KiB pieces.
	_, err = io.CopyBuffer(struct{ io.Writer }{f}, r, buf)
	if err == nil {
		// Chmod after the data: a setuid bit survives only that way.
		err = f.Chmod(fs.FileMode(mode&0o777) | modeBits(mode))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// modeBits are the setuid, setgid and sticky bits of a cpio mode as Go's.
func modeBits(mode uint32) fs.FileMode {
	var m fs.FileMode
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
