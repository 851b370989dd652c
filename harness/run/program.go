package run

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
)

// ProgramError means a program cannot run in a guest: it is not a static
// ELF program, or not one for the guest's arch.
type ProgramError struct {
	Path string
	Err  error
}

func (e *ProgramError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *ProgramError) Unwrap() error { return e.Err }

// ErrNotStatic means a program needs a dynamic loader and libraries,
// which a guest booted without the host's share does not have.
var ErrNotStatic = errors.New("dynamically linked")

// Program is what a program's ELF header says of where it runs.
type Program struct {
	Path string
	// Arch is the arch whose guests run it natively.
	Arch arch.Arch
	// Interp is its program interpreter (dynamic loader); "" for a
	// static program.
	Interp string
}

// Static refuses a dynamically linked program where the guest has no
// libraries to give it.
func (p *Program) Static() error {
	if p.Interp == "" {
		return nil
	}
	return &ProgramError{p.Path, fmt.Errorf("%w (it asks for %s): this guest has no dynamic loader or libraries; "+
		"build it static (Go: CGO_ENABLED=0; C: -static)", ErrNotStatic, p.Interp)}
}

// ReadProgram reads path's ELF header: the arch it is built for, and its
// program interpreter, if any.
func ReadProgram(path string) (*Program, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	f, err := elf.NewFile(file)
	if err != nil {
		return nil, &ProgramError{path, fmt.Errorf("not an ELF program (%v)", err)}
	}
	p := &Program{Path: path}
	var matched bool
	for _, a := range arch.All() {
		if a.MatchELF(f) == nil {
			p.Arch, matched = a, true
			break
		}
	}
	if !matched {
		return nil, &ProgramError{path, fmt.Errorf("built for %s %s %s, which no guest arch runs", f.Machine, f.Class, f.Data)}
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, &ProgramError{path, fmt.Errorf("an ELF %s, not a program", f.Type)}
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			if p.Interp, err = readInterp(prog); err != nil {
				return nil, &ProgramError{path, err}
			}
		}
	}
	return p, nil
}

func readInterp(p *elf.Prog) (string, error) {
	if p.Filesz > 4096 {
		return "", fmt.Errorf("a program interpreter name of %d bytes", p.Filesz)
	}
	b := make([]byte, p.Filesz)
	if _, err := p.ReadAt(b, 0); err != nil {
		return "", fmt.Errorf("its program interpreter: %w", err)
	}
	interp := strings.TrimRight(string(b), "\x00")
	if !filepath.IsAbs(interp) || strings.ContainsRune(interp, 0) {
		return "", fmt.Errorf("program interpreter %q is not an absolute path", interp)
	}
	return filepath.Clean(interp), nil
}

// RunsOn reports whether guests of a run the program: natively, or as
// programs of a's 32-bit compat ABI (i386 programs on x86_64, arm ones on
// arm64).
func (p *Program) RunsOn(a arch.Arch) bool {
	return p.Arch.Name == a.Name || (a.Compat != nil && p.Arch.Go.GOARCH == a.Compat.GOARCH)
}
