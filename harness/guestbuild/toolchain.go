package guestbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/cache"
)

// Toolchain is the C compiler for an arch found on this host, and what
// identifies the programs it makes.
type Toolchain struct {
	Arch arch.Arch
	// CC is the compiler's path.
	CC string
	// Version is the first line of its --version, Debian's revision
	// included: "aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0".
	Version string
	// Libc is the static C library it links into every program, and
	// LibcHash its SHA256: a new glibc makes new programs.
	Libc, LibcHash string
}

// MissingToolchainError means the C compiler or the static C library for
// an arch is not installed.
type MissingToolchainError struct {
	Arch string
	// Missing says what is missing.
	Missing string
	// Packages are the Debian packages that provide it.
	Packages []string
}

func (e *MissingToolchainError) Error() string {
	return fmt.Sprintf("no C toolchain for %s: %s (apt-get install %s)", e.Arch, e.Missing, strings.Join(e.Packages, " "))
}

// Packages returns the Debian packages that provide a's C compiler and
// static C library on this host: the cross ones, or gcc and libc6-dev
// where a is the host's own arch, since Debian has no cross compiler to
// that.
func Packages(a arch.Arch) []string {
	if a.Native() {
		return []string{"gcc", "libc6-dev"}
	}
	return []string{a.CrossCCPackage, a.CrossLibcPackage}
}

// FindToolchain finds a's C compiler on PATH (a.CrossCC; on a host of
// a's arch, gcc too) and the static C library it links. What is missing is
// a *MissingToolchainError naming the packages to install.
func FindToolchain(ctx context.Context, a arch.Arch) (*Toolchain, error) {
	names := []string{a.CrossCC}
	if a.Native() {
		// Debian's gcc answers to its triplet name too; other
		// distributions' host compiler may answer only to gcc.
		names = append(names, "gcc")
	}
	tc := &Toolchain{Arch: a}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			tc.CC = p
			break
		}
	}
	if tc.CC == "" {
		return nil, &MissingToolchainError{Arch: a.Name, Missing: "no " + strings.Join(names, " or ") + " on PATH", Packages: Packages(a)}
	}
	version, err := output(ctx, tc.CC, "--version")
	if err != nil {
		return nil, err
	}
	tc.Version, _, _ = strings.Cut(version, "\n")
	// gcc prints the bare name back when its search path has no such
	// file: the static libc package is missing.
	if tc.Libc, err = output(ctx, tc.CC, "-print-file-name=libc.a"); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(tc.Libc) {
		libc := Packages(a)[1] // the compiler is there: only its libc is missing
		return nil, &MissingToolchainError{Arch: a.Name, Missing: filepath.Base(tc.CC) + " finds no static libc.a", Packages: []string{libc}}
	}
	sum, err := cache.HashFile(tc.Libc)
	tc.LibcHash = sum.SHA256
	if err != nil {
		return nil, fmt.Errorf("static libc for %s: %w", a.Name, err)
	}
	return tc, nil
}

// output runs a command for what it prints, trimmed.
func output(ctx context.Context, name string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, name, args...)
	c.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
