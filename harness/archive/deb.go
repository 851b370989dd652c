package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// arMagic starts every .deb (a Unix ar archive).
const arMagic = "!<arch>\n"

// WalkDeb calls fn for every file in a .deb's data archive, in archive
// order, with the path relative to / ("boot/vmlinuz-6.1.0-50-amd64").
// fn returns errStopWalk (via StopWalk) to stop early: kernel packages list
// ./boot/ before ~350 MB of modules, so a reader that wants boot files stops
// long before the end.
func WalkDeb(r io.Reader, fn func(name string, hdr *tar.Header, body io.Reader) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != arMagic {
		return errors.New("not a .deb: no ar header")
	}
	for {
		var hdr [60]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("not a .deb: no data.tar member")
			}
			return fmt.Errorf("read ar header: %w", err)
		}
		name := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil {
			return fmt.Errorf("ar member %q: bad size: %w", name, err)
		}
		member := io.LimitReader(br, size)
		if strings.HasPrefix(name, "data.tar") {
			return walkTar(name, member, fn)
		}
		if _, err := io.Copy(io.Discard, member); err != nil {
			return fmt.Errorf("skip ar member %q: %w", name, err)
		}
		if size%2 == 1 {
			br.ReadByte() // ar pads members to even sizes
		}
	}
}

var errStopWalk = errors.New("stop walk")

// StopWalk is returned by a WalkDeb callback to end the walk without error.
func StopWalk() error { return errStopWalk }

func walkTar(member string, r io.Reader, fn func(string, *tar.Header, io.Reader) error) error {
	var dec io.Reader
	switch {
	case strings.HasSuffix(member, ".xz"):
		x, err := newXZReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", member, err)
		}
		defer x.Close()
		dec = x
	case strings.HasSuffix(member, ".zst"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", member, err)
		}
		defer zr.Close()
		dec = zr
	case strings.HasSuffix(member, ".gz"):
		gr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", member, err)
		}
		dec = gr
	case member == "data.tar":
		dec = r
	default:
		return fmt.Errorf("%s: unknown compression", member)
	}
	tr := tar.NewReader(dec)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// The tar's end is not the stream's: read on to the end, so
			// that a damaged or cut stream is an error here too.
			if _, err := io.Copy(io.Discard, dec); err != nil {
				return fmt.Errorf("%s: %w", member, err)
			}
			if x, ok := dec.(*xzReader); ok {
				return x.Close()
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", member, err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(hdr.Name, "."), "/")
		if err := fn(name, hdr, tr); err != nil {
			if errors.Is(err, errStopWalk) {
				return nil
			}
			return err
		}
	}
}

// NewXZReader decompresses an xz stream (the kernel source tarball's,
// for instance); Close ends the decoder and reports a damaged stream.
func NewXZReader(r io.Reader) (io.ReadCloser, error) { return newXZReader(r) }

// xzReader decodes xz with the xz tool when there is one: it is several
// times faster than the Go decoder, which matters for the -dbg packages'
// 2 GB of data and for 45 MB indexes. Without the tool, Go decodes.
type xzReader struct {
	io.Reader
	cmd    *exec.Cmd
	stderr bytes.Buffer
	closed bool
}

func newXZReader(r io.Reader) (*xzReader, error) {
	tool, err := exec.LookPath("xz")
	if err != nil {
		xr, err := xz.NewReader(r)
		return &xzReader{Reader: xr}, err
	}
	x := &xzReader{cmd: exec.Command(tool, "-dc")}
	x.cmd.Stdin = r
	x.cmd.Stderr = &x.stderr
	if x.Reader, err = x.cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if err := x.cmd.Start(); err != nil {
		return nil, err
	}
	return x, nil
}

// Close ends the tool. After the whole stream was read it reports how the
// tool ended (a damaged stream); before that it stops the tool, since a
// walk that stopped early leaves input unread.
func (x *xzReader) Close() error {
	if x.cmd == nil || x.closed {
		return nil
	}
	x.closed = true
	if n, _ := x.Reader.Read(make([]byte, 1)); n > 0 {
		x.cmd.Process.Kill()
		x.cmd.Wait()
		return nil
	}
	if err := x.cmd.Wait(); err != nil {
		return fmt.Errorf("xz: %v: %s", err, bytes.TrimSpace(x.stderr.Bytes()))
	}
	return nil
}

// BootFiles are what a guest needs from a kernel package.
type BootFiles struct {
	Vmlinuz []byte
	Config  []byte
	// Release is the kernel release, from the vmlinuz's file name
	// (6.1.0-50-amd64); ConfigRelease from the config's.
	Release, ConfigRelease string
}

// Bounds on what extraction holds in memory or writes: far above what
// Debian's packages hold, they keep a damaged or hostile archive (a
// decompression bomb) from filling memory or the disk.
const (
	maxBootFile = 256 << 20 // a vmlinuz is about 10 MB, a config 300 KB
	maxExtract  = 4 << 30   // a -dbg package's vmlinux is under 1 GB
)

// BootParts says which of a kernel's boot files a package must hold.
type BootParts int

const (
	BootVmlinuz BootParts = 1 << iota
	BootConfig
)

// ExtractBoot reads /boot/vmlinuz-* and /boot/config-* from a kernel .deb
// (Debian's image packages hold both), stopping once it has passed /boot.
func ExtractBoot(r io.Reader) (*BootFiles, error) { return ExtractBootParts(r, BootVmlinuz|BootConfig) }

// ExtractBootParts reads those of /boot/vmlinuz-* and /boot/config-* from
// a kernel .deb that want names, which it must hold, and stops once it
// has them and has passed /boot. Ubuntu's kernels come in two packages:
// the image's holds the vmlinuz, the modules' the config.
func ExtractBootParts(r io.Reader, want BootParts) (*BootFiles, error) {
	return extractBoot(r, want, maxBootFile)
}

func extractBoot(r io.Reader, want BootParts, limit int64) (*BootFiles, error) {
	var b BootFiles
	has := func() BootParts {
		var p BootParts
		if b.Vmlinuz != nil {
			p |= BootVmlinuz
		}
		if b.Config != nil {
			p |= BootConfig
		}
		return p
	}
	err := WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
		inBoot := strings.HasPrefix(name, "boot/")
		if !inBoot && has()&want == want {
			return StopWalk()
		}
		if !inBoot || hdr.Typeflag != tar.TypeReg {
			return nil
		}
		base := strings.TrimPrefix(name, "boot/")
		var part BootParts
		switch {
		case strings.HasPrefix(base, "vmlinuz-"), strings.HasPrefix(base, "vmlinux-"):
			part = BootVmlinuz
		case strings.HasPrefix(base, "config-"):
			part = BootConfig
		}
		if part&want == 0 {
			return nil // System.map, and what the caller takes from another package
		}
		if hdr.Size > limit {
			return fmt.Errorf("%s: %d bytes, more than %d", name, hdr.Size, limit)
		}
		data := make([]byte, hdr.Size)
		if _, err := io.ReadFull(body, data); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if part == BootVmlinuz {
			b.Vmlinuz, b.Release = data, base[len("vmlinuz-"):]
		} else {
			b.Config, b.ConfigRelease = data, base[len("config-"):]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch missing := want &^ has(); missing {
	case 0:
	case BootVmlinuz | BootConfig:
		return nil, errors.New("package has no /boot/vmlinuz-* and /boot/config-*: not a kernel image package")
	case BootVmlinuz:
		return nil, errors.New("package has no /boot/vmlinuz-*: not a kernel image package")
	default:
		return nil, errors.New("package has no /boot/config-*")
	}
	return &b, nil
}

// ExtractTree writes the regular files of a .deb's data archive that lie
// under prefix (a path relative to /, like "usr/include/bpf") into dest,
// keeping their paths. It returns how many files it wrote. Names with ".."
// are skipped and no links are made, so nothing lands outside dest.
func ExtractTree(r io.Reader, prefix, dest string) (int, error) {
	return extractTree(r, prefix, dest, maxExtract)
}

func extractTree(r io.Reader, prefix, dest string, limit int64) (int, error) {
	prefix = strings.Trim(prefix, "/") + "/"
	n, left := 0, limit
	err := WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
		if hdr.Typeflag != tar.TypeReg || !strings.HasPrefix(name, prefix) || strings.Contains(name, "..") {
			return nil
		}
		if left -= hdr.Size; left < 0 {
			return fmt.Errorf("/%s: more than %d bytes in all", prefix, limit)
		}
		n++
		return WriteFrom(filepath.Join(dest, filepath.FromSlash(name)), body)
	})
	if err == nil && n == 0 {
		err = fmt.Errorf("no files under /%s", prefix)
	}
	return n, err
}

// ExtractFile writes the one file of a .deb's data archive at name
// (relative to /) to dest, stopping the walk as soon as it has it.
func ExtractFile(r io.Reader, name, dest string) error {
	found := false
	err := WalkDeb(r, func(n string, hdr *tar.Header, body io.Reader) error {
		if n != name || hdr.Typeflag != tar.TypeReg {
			return nil
		}
		if hdr.Size > maxExtract {
			return fmt.Errorf("/%s: %d bytes, more than %d", name, hdr.Size, maxExtract)
		}
		if err := WriteFrom(dest, body); err != nil {
			return err
		}
		found = true
		return StopWalk()
	})
	if err == nil && !found {
		err = fmt.Errorf("no /%s in the package", name)
	}
	return err
}

// WriteFrom writes everything r gives to the file at path, making its
// directory.
func WriteFrom(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
