package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// FileSum is a file's size and SHA256: what an archive's signed index
// lists for a file, and what a manifest keeps of each file of an entry.
type FileSum struct {
	SHA256 string
	Size   int64
}

// HashFile is the size and SHA256 of the file at path: the one way
// ksystest hashes a file.
func HashFile(path string) (FileSum, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileSum{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	return FileSum{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, err
}

// Key names the entry made from from: the first 8 bytes of its SHA256,
// in hex. Everything an entry is made from is in from, so another input
// is another entry.
func Key(from string) string {
	sum := sha256.Sum256([]byte(from))
	return hex.EncodeToString(sum[:8])
}

// HashMismatchError says a file's SHA256 is not the one it should have.
type HashMismatchError struct {
	URL       string // or the file's path
	Want, Got string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("sha256 %s, want %s", e.Got, e.Want)
}

// CheckFile compares a regular file with its size and SHA256, the size
// first: a truncated file costs no hashing.
func CheckFile(path string, want FileSum) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if st.Size() != want.Size {
		return fmt.Errorf("%d bytes, want %d", st.Size(), want.Size)
	}
	got, err := HashFile(path)
	if err != nil {
		return err
	}
	if got.SHA256 != want.SHA256 {
		return &HashMismatchError{URL: path, Want: want.SHA256, Got: got.SHA256}
	}
	return nil
}

// ErrTooLarge means a file, or what a server sent, is larger than it may
// be.
var ErrTooLarge = errors.New("too large")

// ReadFileLimit reads the file at path, of at most limit bytes.
func ReadFileLimit(path string, limit int64) ([]byte, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	data, err := io.ReadAll(io.LimitReader(fd, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s: %w: want at most %d bytes", path, ErrTooLarge, limit)
	}
	return data, err
}

// pathComponent is a component of a relative path: never "." or "..",
// nothing a URL would read as an escape, a query or a fragment.
var pathComponent = regexp.MustCompile(`^[A-Za-z0-9+_~][A-Za-z0-9+_~.-]*$`)

// maxRelPath bounds a relative path.
const maxRelPath = 1020

// ErrBadPath means a relative path is not a plain one.
var ErrBadPath = errors.New("not a plain relative path")

// CheckRelPath accepts a relative slash-separated path whose every
// component is plain (a Filename from an index, a file of a manifest):
// such a path joined to a directory stays in it.
func CheckRelPath(kind, name string) error {
	if name == "" || len(name) > maxRelPath {
		return fmt.Errorf("%s %q: %w", kind, name, ErrBadPath)
	}
	for _, c := range strings.Split(name, "/") {
		if !pathComponent.MatchString(c) {
			return fmt.Errorf("%s %q: %w", kind, name, ErrBadPath)
		}
	}
	return nil
}
