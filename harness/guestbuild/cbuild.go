package guestbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/cache"
)

// The workloads, by their directory in the module's source.
const (
	// Client is the C client: a file, mmap, TCP to itself, fork and a
	// thread (CBuilder.Path builds it).
	Client = "workloads/client"
	// HTTPGet is the Go program serving and GETting a page over
	// net/http (GoBuilder.Package builds it).
	HTTPGet = "workloads/httpget"
	// True exits at once: the program ksystest bench times exec with
	// (GoBuilder.Package builds it).
	True = "workloads/true"
)

// flags is how every C workload is compiled and linked: static, since a
// guest's initramfs has no C library, and -pthread for the threads.
var flags = []string{"-static", "-O2", "-pthread"}

// CBuilder compiles C workloads for guest arches: static (a guest has
// no C library of its own), with Debian's gcc for the guest's arch, and
// cached by a hash of the source, the compiler's version, the static C
// library and the flags.
type CBuilder struct {
	// Source holds the programs, each the .c and .h files of one
	// directory (ksystest.GuestSource()).
	Source fs.FS
	// Cache keeps the built programs.
	Cache *cache.Cache
	// Logf reports builds; nil is quiet.
	Logf func(format string, args ...any)

	mu         sync.Mutex
	toolchains map[string]*Toolchain
}

// Path returns the C program in directory dir of the source (slash
// separated: Client) built for a, compiling it when the cache has none for
// this source, compiler, C library and flags. What it returns is checked:
// a static ELF program for a's machine.
func (b *CBuilder) Path(ctx context.Context, dir string, a arch.Arch) (string, error) {
	files, srcHash, err := source(b.Source, dir)
	if err != nil {
		return "", err
	}
	tc, err := b.toolchain(ctx, a)
	if err != nil {
		return "", err
	}
	// Everything the program is made from; its hash names the entry.
	from := fmt.Sprintf("%s for %s from source %s, compiled by %s (%s) with libc.a %s, flags %s",
		dir, a.Name, srcHash, tc.CC, tc.Version, tc.LibcHash, strings.Join(flags, " "))
	key := cache.Key(from)
	name := strings.ReplaceAll(dir, "/", "-") + "." + a.Name
	out := b.Cache.Path("workload", key, name)
	_, err = b.Cache.File(ctx, "workload-"+key+"-"+name, out, from, func(tmp string) (string, error) {
		return b.compile(ctx, tc, dir, files, tmp)
	})
	if err != nil {
		return "", fmt.Errorf("build %s for %s: %w", dir, a.Name, err)
	}
	return out, nil
}

func (b *CBuilder) compile(ctx context.Context, tc *Toolchain, dir string, files map[string][]byte, tmp string) (string, error) {
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	var units []string
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			return "", err
		}
		if strings.HasSuffix(name, ".c") {
			units = append(units, name)
		}
	}
	sort.Strings(units)
	if b.Logf != nil {
		b.Logf("compiling %s for %s with %s", dir, tc.Arch.Name, tc.CC)
	}
	out := filepath.Join(tmp, path.Base(dir))
	args := append(append(append([]string{}, flags...), "-o", out), units...)
	if _, err := runCC(ctx, tc.CC, src, args); err != nil {
		return "", err
	}
	if err := CheckProgram(out, tc.Arch); err != nil {
		return "", fmt.Errorf("%s: %w", tc.CC, err)
	}
	return out, nil
}

// runCC runs the C compiler cc in dir with args; what it said on stderr
// is the error when it fails, its warnings when it does not.
func runCC(ctx context.Context, cc, dir string, args []string) (warnings string, err error) {
	c := exec.CommandContext(ctx, cc, args...)
	c.Dir = dir
	// The C locale keeps gcc's messages in English for the error.
	c.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", cc, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stderr.String()), nil
}

// CheckProgram reports whether the file at p is a static ELF program for
// a: a guest has no dynamic loader, and a compiler for another machine
// (a host gcc taken for a cross one) must not go unnoticed until boot.
func CheckProgram(p string, a arch.Arch) error {
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := a.MatchELF(f); err != nil {
		return err
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", filepath.Base(p))
		}
	}
	return nil
}

// source reads the .c and .h files of dir and hashes them (names and
// contents) in a fixed order.
func source(fsys fs.FS, dir string) (map[string][]byte, string, error) {
	if fsys == nil {
		return nil, "", fmt.Errorf("workload %s: no source", dir)
	}
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, "", fmt.Errorf("workload %s: %w", dir, err)
	}
	files := map[string][]byte{}
	h := sha256.New()
	var units int
	for _, e := range ents { // sorted by name
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".c" && ext != ".h") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, "", fmt.Errorf("workload %s: %w", dir, err)
		}
		files[e.Name()] = data
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(data))
		h.Write(data)
		if ext == ".c" {
			units++
		}
	}
	if units == 0 {
		return nil, "", fmt.Errorf("workload %s: no .c files", dir)
	}
	return files, hex.EncodeToString(h.Sum(nil)), nil
}

// toolchain finds a's toolchain once per Builder: the lookup runs the
// compiler twice and hashes its C library.
func (b *CBuilder) toolchain(ctx context.Context, a arch.Arch) (*Toolchain, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if tc, ok := b.toolchains[a.Name]; ok {
		return tc, nil
	}
	tc, err := FindToolchain(ctx, a)
	if err != nil {
		return nil, err
	}
	if b.toolchains == nil {
		b.toolchains = map[string]*Toolchain{}
	}
	b.toolchains[a.Name] = tc
	return tc, nil
}
