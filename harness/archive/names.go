package archive

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/ksystest/ksystest/harness/cache"
)

// Suites, architectures, package names, hashes and index file names
// become cache paths and mirror URLs, and they come from matrix files and
// from indexes. Only plain Debian names pass: "../../tmp/x" must never
// reach filepath.Join.
var (
	suiteName   = regexp.MustCompile(`^[a-z][a-z0-9.-]*$`)
	archName    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	packageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`) // Debian policy 5.6.1
	sha256Hex   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// A version is only compared and shown, but it is checked as plainly
	// (Debian policy 5.6.12: epoch, upstream, revision).
	debVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~:-]*$`)
)

// maxNameLen bounds every name; Debian's are far shorter.
const maxNameLen = 255

// ErrBadName means a suite, architecture, package or file name is not a
// plain Debian name.
var ErrBadName = errors.New("not a plain Debian name")

func checkName(kind, name string, re *regexp.Regexp) error {
	if len(name) > maxNameLen || !re.MatchString(name) {
		return fmt.Errorf("%s %q: %w", kind, name, ErrBadName)
	}
	return nil
}

func CheckSuite(suite string) error  { return checkName("suite", suite, suiteName) }
func CheckArch(debArch string) error { return checkName("architecture", debArch, archName) }
func CheckPackage(name string) error { return checkName("package", name, packageName) }
func CheckSHA256(sum string) error   { return checkName("sha256", sum, sha256Hex) }
func CheckVersion(v string) error    { return checkName("version", v, debVersion) }

// CheckRelPath accepts a relative slash-separated path whose every
// component is plain: a Filename from an index ("pool/main/l/...deb").
func CheckRelPath(kind, name string) error {
	if cache.CheckRelPath(kind, name) != nil {
		return fmt.Errorf("%s %q: %w", kind, name, ErrBadName)
	}
	return nil
}
