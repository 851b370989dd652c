package initramfs

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"path"
	"sort"
	"strings"

	"github.com/ksystest/ksystest/harness/initramfs/newc"
)

// File is one entry of an initramfs.
type File struct {
	Path string // absolute, inside the guest
	Mode uint32 // permission bits; the type comes from the entry kind
	Data []byte
	// Dir or Char make a directory or a character device (Major:Minor).
	Dir          bool
	Char         bool
	Major, Minor uint32
	// Symlink, when not empty, makes a symbolic link to it.
	Symlink string
}

// checkFiles refuses what the kernel would unpack otherwise than written,
// or not at all: a name it cannot take, one that ends the archive, two
// entries with one name, a file below something that is not a directory,
// data on a directory, device or symlink, a link target the kernel would
// cut, more data than a newc header can say.
func checkFiles(files []File) error {
	byPath := map[string]File{}
	for _, f := range files {
		var problem string
		switch {
		case !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" || strings.ContainsRune(f.Path, 0):
			problem = "not a clean absolute path"
		case len(f.Path) >= 4096: // PATH_MAX, counting the NUL
			problem = "name too long"
		case f.Path == "/"+trailer || strings.HasPrefix(f.Path, "/"+trailer+"/"):
			// Its own entry or its parent's would end the archive.
			problem = "the name that ends a cpio archive"
		case kinds(f) > 1:
			problem = "more than one of a directory, a device and a symlink"
		case (f.Dir || f.Char || f.Symlink != "") && len(f.Data) > 0:
			problem = "data on a directory, device or symlink"
		case len(f.Symlink) >= 4096 || strings.ContainsRune(f.Symlink, 0):
			problem = "a symlink target the kernel cannot take"
		case int64(len(f.Data)) > math.MaxUint32:
			problem = "more than 4 GiB"
		}
		if _, dup := byPath[f.Path]; dup && problem == "" {
			problem = "given twice"
		}
		if problem != "" {
			return fmt.Errorf("initramfs %q: %s", f.Path, problem)
		}
		byPath[f.Path] = f
	}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			if p, ok := byPath[d]; ok && !p.Dir {
				return fmt.Errorf("initramfs %s: %s is not a directory", f.Path, d)
			}
		}
	}
	return nil
}

func kinds(f File) int {
	n := 0
	for _, k := range []bool{f.Dir, f.Char, f.Symlink != ""} {
		if k {
			n++
		}
	}
	return n
}

const (
	trailer  = newc.Trailer
	modeDir  = newc.TypeDir
	modeReg  = newc.TypeReg
	modeChar = newc.TypeChar
	modeLink = newc.TypeSymlink
)

// WriteInitramfs writes files as an uncompressed newc cpio archive, the
// format the kernel unpacks into its rootfs. Parent directories are added
// as needed, owners are root, and timestamps are zero so that the same
// files always give the same bytes. No root privilege and no cpio binary
// are needed: device nodes are just headers.
func WriteInitramfs(w io.Writer, files []File) error {
	if err := checkFiles(files); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	entries := withParents(files)
	ino := uint32(1)
	for _, f := range entries {
		mode := f.Mode & 0o7777
		data := f.Data
		var rdevMajor, rdevMinor uint32
		switch {
		case f.Dir:
			mode |= modeDir
		case f.Char:
			mode |= modeChar
			rdevMajor, rdevMinor = f.Major, f.Minor
		case f.Symlink != "":
			// The kernel reads a link's target from its data.
			mode |= modeLink
			data = []byte(f.Symlink)
		default:
			mode |= modeReg
		}
		name := strings.TrimPrefix(f.Path, "/")
		if err := writeEntry(bw, ino, mode, rdevMajor, rdevMinor, name, data); err != nil {
			return fmt.Errorf("initramfs %s: %w", f.Path, err)
		}
		ino++
	}
	if err := writeEntry(bw, 0, 0, 0, 0, trailer, nil); err != nil {
		return err
	}
	return bw.Flush()
}

func writeEntry(w *bufio.Writer, ino, mode, rmaj, rmin uint32, name string, data []byte) error {
	nlink := uint32(1)
	if mode&modeDir != 0 {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmaj, rmin, len(name)+1, 0)
	w.WriteString(hdr)
	w.WriteString(name)
	w.WriteByte(0)
	pad(w, len(hdr)+len(name)+1)
	w.Write(data)
	_, err := w.Write(make([]byte, padLen(len(data))))
	return err
}

func padLen(n int) int { return (4 - n%4) % 4 }

func pad(w *bufio.Writer, n int) { w.Write(make([]byte, padLen(n))) }

// withParents returns files sorted by path with every missing parent
// directory added before its children.
func withParents(files []File) []File {
	have := map[string]bool{}
	for _, f := range files {
		have[path.Clean(f.Path)] = true
	}
	out := append([]File(nil), files...)
	for _, f := range files {
		for d := path.Dir(path.Clean(f.Path)); d != "/" && d != "."; d = path.Dir(d) {
			if !have[d] {
				have[d] = true
				out = append(out, File{Path: d, Mode: 0o755, Dir: true})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
