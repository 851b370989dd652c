package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/ksystest/ksystest/harness/cache"
)

// Release is the verified content of a suite's InRelease.
type Release struct {
	Suite      string // the Codename (bookworm-backports), else the Suite
	Archive    string // the Suite field (oldstable-backports), which moves
	Date       time.Time
	ValidUntil time.Time // zero when the suite sets none
	// Files maps a path below dists/SUITE/ to its SHA256 and size.
	Files map[string]cache.FileSum
}

// HasArch reports whether the release indexes packages for debArch in
// its main component.
func (r *Release) HasArch(debArch string) bool {
	prefix := "main/binary-" + debArch + "/"
	for name := range r.Files {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// Is reports whether the release is suite's: its Suite field names it
// (focal-updates, oldstable), or its Codename does (bookworm-backports,
// bookworm) and its Suite field names no other pocket of that codename:
// Ubuntu's pockets share their codename (focal-updates is Codename focal),
// and focal-updates' file must not pass for focal's.
func (r *Release) Is(suite string) bool {
	if r.Archive == suite {
		return true
	}
	return r.Suite == suite && !strings.HasPrefix(r.Archive, suite+"-")
}

// Name names the release by its Codename, or by its Suite field where
// that is a pocket of the codename (Ubuntu's focal-updates).
func (r *Release) Name() string {
	if strings.HasPrefix(r.Archive, r.Suite+"-") {
		return r.Archive
	}
	return r.Suite
}

// ExpiredError says a Release is past its Valid-Until.
type ExpiredError struct {
	Suite      string
	ValidUntil time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("suite %s: InRelease expired on %s (Valid-Until); pass --allow-expired-release or set Acquire::Check-Valid-Until \"false\" in apt's configuration to accept it",
		e.Suite, e.ValidUntil.Format(time.RFC1123))
}

// LoadKeyring reads an OpenPGP keyring of Debian's archive, binary or
// armored.
func LoadKeyring(path string) (openpgp.EntityList, error) { return Debian.LoadKeyring(path) }

// LoadKeyring reads an OpenPGP keyring, binary or armored, that signs the
// distro's archive; a missing one says which package installs it.
func (d *Distro) LoadKeyring(path string) (openpgp.EntityList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s's keyring (install %s or pass %s): %w", d.Title, d.KeyringPackage, d.KeyringFlag, err)
	}
	keys, err := openpgp.ReadKeyRing(bytes.NewReader(data))
	if err != nil {
		keys, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("parse keyring %s: %w", path, err)
	}
	return keys, nil
}

// ErrBadSignature means an InRelease did not verify against the keyring.
var ErrBadSignature = errors.New("InRelease signature does not verify")

// VerifyInRelease checks the clearsigned InRelease against keys and parses
// the signed text. Nothing outside the signed part is read.
func VerifyInRelease(data []byte, keys openpgp.KeyRing) (*Release, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: not a clearsigned message", ErrBadSignature)
	}
	if _, err := block.VerifySignature(keys, nil); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return ParseRelease(block.Plaintext)
}

// ParseRelease reads the fields of a Release file that ksystest uses.
func ParseRelease(text []byte) (*Release, error) {
	f := parseStanza(string(text))
	// Codename is stable (bookworm-backports); Suite moves (oldstable-backports).
	r := &Release{Suite: f["Codename"], Archive: f["Suite"], Files: map[string]cache.FileSum{}}
	if r.Suite == "" {
		r.Suite = f["Suite"]
	}
	var err error
	if r.Date, err = parseReleaseTime(f["Date"]); err != nil {
		return nil, fmt.Errorf("release %s: Date: %w", r.Suite, err)
	}
	if v := f["Valid-Until"]; v != "" {
		if r.ValidUntil, err = parseReleaseTime(v); err != nil {
			return nil, fmt.Errorf("release %s: Valid-Until: %w", r.Suite, err)
		}
	}
	for _, line := range strings.Split(f["SHA256"], "\n") {
		parts := strings.Fields(line)
		if len(parts) != 3 {
			continue
		}
		size, err := strconv.ParseInt(parts[1], 10, 64)
		if err == nil && size < 0 {
			err = errors.New("negative size")
		}
		if err == nil {
			err = CheckSHA256(parts[0])
		}
		if err != nil {
			return nil, fmt.Errorf("release %s: SHA256 line %q: %w", r.Suite, line, err)
		}
		r.Files[parts[2]] = cache.FileSum{SHA256: parts[0], Size: size}
	}
	if len(r.Files) == 0 {
		return nil, fmt.Errorf("release %s: no SHA256 file list", r.Suite)
	}
	return r, nil
}

func parseReleaseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unparsable time %q", s)
}

// CheckValid returns an ExpiredError when the release is past Valid-Until
// at now.
func (r *Release) CheckValid(now time.Time) error {
	if !r.ValidUntil.IsZero() && now.After(r.ValidUntil) {
		return &ExpiredError{Suite: r.Suite, ValidUntil: r.ValidUntil}
	}
	return nil
}

// AptChecksValidUntil reports whether the host's apt configuration leaves
// Valid-Until checking on (apt's default). ksystest follows the host.
func AptChecksValidUntil(confGlobs ...string) bool {
	if len(confGlobs) == 0 {
		confGlobs = []string{"/etc/apt/apt.conf", "/etc/apt/apt.conf.d/*"}
	}
	for _, g := range confGlobs {
		files, _ := filepath.Glob(g)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(data), "\n") {
				line = strings.TrimSpace(line)
				if strings.HasPrefix(line, "//") || !strings.HasPrefix(strings.ToLower(line), "acquire::check-valid-until") {
					continue
				}
				v := strings.ToLower(line[len("acquire::check-valid-until"):])
				if strings.Contains(v, "false") || strings.Contains(v, "\"0\"") || strings.Contains(v, "no") {
					return false
				}
			}
		}
	}
	return true
}

// Package is one stanza of a Packages index.
type Package struct {
	Name     string
	Version  string
	Arch     string
	Filename string
	SHA256   string
	Size     int64
	Depends  string
	Source   string
}

// ParsePackages reads a Packages index. keep, when not nil, selects which
// packages to return, so a whole suite's index need not stay in memory.
// The names, hashes and file names of the packages it returns are plain
// (they become cache paths and URLs); a kept stanza with others is an
// Origin names the package for a cache entry made from it: name,
// version and hash.
func (p Package) Origin() string { return p.Name + " " + p.Version + " sha256:" + p.SHA256 }

// error.
func ParsePackages(r io.Reader, keep func(name string) bool) ([]Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	// Every run reads whole indexes (45 MB for bookworm's amd64) to keep a
	// few stanzas: the scanner hands out whole stanzas, and one nobody
	// asked for costs a look at its Package line.
	var lines, first int // lines consumed; first line of the stanza
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		start := 0
		for start < len(data) && data[start] == '\n' {
			start++
		}
		end := bytes.Index(data[start:], []byte("\n\n"))
		switch {
		case end >= 0:
			end += start + 1
		case !atEOF:
			return 0, nil, nil
		case start == len(data):
			return len(data), nil, nil
		default:
			end = len(data)
		}
		first = lines + start + 1
		lines += start + bytes.Count(data[start:end], []byte("\n"))
		return end, data[start:end], nil
	})
	var out []Package
	for sc.Scan() {
		p, ok, err := parsePackage(sc.Bytes(), keep)
		if err == nil && ok {
			if p.Filename == "" || p.SHA256 == "" {
				err = errors.New("no Filename or SHA256")
			} else {
				err = errors.Join(CheckPackage(p.Name), CheckRelPath("Filename", p.Filename), CheckSHA256(p.SHA256))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("package %s %s (line %d): %w", p.Name, p.Version, first, err)
		}
		if ok {
			out = append(out, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read Packages (line %d): %w", lines, err)
	}
	return out, nil
}

// parsePackage reads one stanza, and says whether it is a package keep
// wants. It stops at the Package line of one that is not.
func parsePackage(stanza []byte, keep func(string) bool) (Package, bool, error) {
	var p Package
	for len(stanza) > 0 {
		var line []byte
		line, stanza, _ = bytes.Cut(stanza, []byte("\n"))
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "Package":
			p.Name = string(v)
			if keep != nil && !keep(p.Name) {
				return p, false, nil
			}
		case "Version":
			p.Version = string(v)
		case "Architecture":
			p.Arch = string(v)
		case "Filename":
			p.Filename = string(v)
		case "SHA256":
			p.SHA256 = string(v)
		case "Size":
			size, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || size < 0 {
				return p, false, fmt.Errorf("Size %q", v)
			}
			p.Size = size
		case "Depends":
			p.Depends = string(v)
		case "Source":
			p.Source = string(v)
		}
	}
	return p, p.Name != "", nil
}

// FirstDependency returns the package name of the first Depends entry:
// linux-image-amd64 depends on exactly the kernel package it stands for.
func (p Package) FirstDependency() string {
	first, _, _ := strings.Cut(p.Depends, ",")
	first, _, _ = strings.Cut(first, "|")
	name, _, _ := strings.Cut(strings.TrimSpace(first), " ")
	name, _, _ = strings.Cut(name, ":")
	return name
}
