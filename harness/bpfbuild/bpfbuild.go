// Package bpfbuild compiles BPF C sources for one guest arch with clang, the
// way bpf2go does, but as a step of a run: the arch's clang target and
// __TARGET_ARCH_*, libbpf's headers, an optional vmlinux.h for the target
// kernel, compiler warnings kept and shown (never silenced), a compile
// error located at file:line, and objects cached by a content hash of the
// source, every header it read, the flags and the compiler. ksystest's own
// probes are built with it too (make generate). It imports arch and image
// (for the cache), nothing that boots.
package bpfbuild

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/cache"
)

// Compiler runs clang.
type Compiler struct {
	// Clang and Strip are the tools; empty means clang and llvm-strip
	// from PATH ($KSYSTEST_CLANG overrides clang).
	Clang, Strip string
	// Cache keeps compiled objects; nil compiles every time.
	Cache *cache.Cache

	once    sync.Once
	version string
	verErr  error
}

// Unit is one source to compile for one target.
type Unit struct {
	// Source is the .c file.
	Source string
	// Includes are -I directories, searched in order.
	Includes []string
	// Defines are -D NAME=VALUE (VALUE may be empty).
	Defines map[string]string
	// Flags are more clang flags (-Wno-... is the user's to give).
	Flags  []string
	Target arch.BPFTarget
	// Root, when set, is written as "." in the object's file names (BTF
	// line info), so the object does not depend on where it was built.
	Root string
}

// Result is a compiled object.
type Result struct {
	Object string
	// Warnings is what clang printed on success, empty when nothing.
	Warnings string
	Cached   bool
	// Deps are the files the compile read (source and headers).
	Deps []string
}

// CompileError is a failed compile, located at the first error clang
// reported.
type CompileError struct {
	File       string
	Line, Col  int
	Msg        string
	Output     string // all of clang's output
	Unit       string // the source compiled
	TargetName string
}

func (e *CompileError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d:%d: %s (compiling %s for %s)", e.File, e.Line, e.Col, e.Msg, e.Unit, e.TargetName)
	}
	return fmt.Sprintf("compile %s for %s: %s", e.Unit, e.TargetName, firstLine(e.Output))
}

// ErrNoClang means clang is not installed.
var ErrNoClang = errors.New("clang is needed to compile BPF sources (install clang, or give prebuilt objects)")

func (c *Compiler) clang() string {
	switch {
	case c.Clang != "":
		return c.Clang
	case os.Getenv("KSYSTEST_CLANG") != "":
		return os.Getenv("KSYSTEST_CLANG")
	}
	return "clang"
}

func (c *Compiler) strip() string {
	if c.Strip != "" {
		return c.Strip
	}
	return "llvm-strip"
}

// Version is clang's version line, asked once.
func (c *Compiler) Version(ctx context.Context) (string, error) {
	c.once.Do(func() {
		out, err := exec.CommandContext(ctx, c.clang(), "--version").Output()
		if err != nil {
			c.verErr = fmt.Errorf("%w: %v", ErrNoClang, err)
			return
		}
		c.version = firstLine(string(out))
	})
	return c.version, c.verErr
}

// Args are clang's arguments for u, without the output: what the cache
// key covers besides the files read.
func Args(u Unit) []string {
	args := []string{
		"-O2", "-g", "-mcpu=v1", "-Wall", "-target", u.Target.Clang,
		"-D__TARGET_ARCH_" + u.Target.Linux,
		"-fno-ident", "-fdebug-compilation-dir", ".",
	}
	var names []string
	for n := range u.Defines {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if v := u.Defines[n]; v != "" {
			args = append(args, "-D"+n+"="+v)
		} else {
			args = append(args, "-D"+n)
		}
	}
	for _, inc := range u.Includes {
		args = append(args, "-I"+inc)
	}
	if u.Root != "" {
		args = append(args, "-fdebug-prefix-map="+u.Root+"=.")
	}
	return append(args, u.Flags...)
}

// Compile compiles u into an object, from the cache when nothing it
// depends on changed. The object keeps its BTF but no DWARF.
func (c *Compiler) Compile(ctx context.Context, u Unit) (*Result, error) {
	version, err := c.Version(ctx)
	if err != nil {
		return nil, err
	}
	src, err := filepath.Abs(u.Source)
	if err != nil {
		return nil, err
	}
	u.Source = src
	for i, inc := range u.Includes {
		if u.Includes[i], err = filepath.Abs(inc); err != nil {
			return nil, err
		}
	}
	key := keyOf(version, u)
	if c.Cache == nil {
		dir, done, err := cache.HostScratch("bpfbuild").Make()
		if err != nil {
			return nil, err
		}
		defer done()
		r, err := c.compile(ctx, u, src, dir)
		if err != nil {
			return nil, err
		}
		keep, err := os.CreateTemp("", "ksystest-bpf-*.o")
		if err != nil {
			return nil, err
		}
		keep.Close()
		if err := os.Rename(r.Object, keep.Name()); err != nil {
			return nil, err
		}
		r.Object = keep.Name()
		return r, nil
	}
	// The entry's manifest vouches for the object and the list of what
	// the compile read; what it read lies outside the cache and is
	// checked against that list each time: a header edited since makes
	// the entry stale.
	dir := c.Cache.Path("bpf", key)
	for {
		var made *Result
		cached, err := c.Cache.File(ctx, "bpf-"+key, dir, "clang "+key, func(tmp string) (string, error) {
			entry := filepath.Join(tmp, "entry")
			if err := os.Mkdir(entry, 0o755); err != nil {
				return "", err
			}
			r, err := c.compile(ctx, u, src, entry)
			if err != nil {
				return "", err
			}
			made = r
			return entry, writeDeps(entry, r)
		})
		if err != nil {
			return nil, err
		}
		r, err := readEntry(dir)
		if err == nil || !cached {
			if r != nil {
				r.Cached = cached
			}
			if made != nil && r != nil {
				r.Deps = made.Deps
			}
			return r, err
		}
		if err := c.Cache.Remove(dir); err != nil {
			return nil, err
		}
	}
}

// compile runs clang and llvm-strip for u, writing out.o (and clang's
// dependency list) into dir.
func (c *Compiler) compile(ctx context.Context, u Unit, src, dir string) (*Result, error) {
	obj := filepath.Join(dir, "out.o")
	deps := filepath.Join(dir, "out.d")
	args := append(Args(u), "-MD", "-MF", deps, "-c", filepath.Base(src), "-o", obj)
	cmd := exec.CommandContext(ctx, c.clang(), args...)
	cmd.Dir = filepath.Dir(src)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, compileError(out.String(), u)
	}
	if o, err := exec.CommandContext(ctx, c.strip(), "-g", obj).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s -g: %v: %s", c.strip(), err, o)
	}
	r := &Result{Object: obj, Warnings: strings.TrimSpace(out.String())}
	var err error
	if r.Deps, err = readDeps(deps, cmd.Dir); err != nil {
		return nil, err
	}
	return r, os.Remove(deps)
}

// keyOf covers the compiler, the arguments and the source's path; the
// headers it reads are checked through the manifest.
func keyOf(version string, u Unit) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", version, u.Source)
	for _, a := range Args(u) {
		fmt.Fprintf(h, "%s\x00", a)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// depsFile lies beside a cached object: every file the compile read,
// with its hash, and what clang warned.
const depsFile = "deps.json"

type entryDeps struct {
	Deps     map[string]cache.FileSum `json:"deps"`
	Warnings string                   `json:"warnings,omitempty"`
}

func writeDeps(entry string, r *Result) error {
	d := entryDeps{Deps: map[string]cache.FileSum{}, Warnings: r.Warnings}
	for _, f := range r.Deps {
		sum, err := cache.HashFile(f)
		if err != nil {
			return err
		}
		d.Deps[f] = sum
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(entry, depsFile), data, 0o644)
}

// readEntry is the result a cache entry holds, or an error when a file the
// compile read has changed since.
func readEntry(dir string) (*Result, error) {
	data, err := cache.ReadFileLimit(filepath.Join(dir, depsFile), 1<<20)
	if err != nil {
		return nil, err
	}
	var d entryDeps
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", depsFile, err)
	}
	r := &Result{Object: filepath.Join(dir, "out.o"), Warnings: d.Warnings}
	for f, want := range d.Deps {
		if err := cache.CheckFile(f, want); err != nil {
			return nil, fmt.Errorf("%s changed since the object was made: %w", f, err)
		}
		r.Deps = append(r.Deps, f)
	}
	sort.Strings(r.Deps)
	return r, nil
}

// readDeps parses clang's make-style dependency file: "out.o: a.c b.h \".
func readDeps(path, dir string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dependency list: %w", err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	_, list, _ := strings.Cut(text, ":")
	seen := map[string]bool{}
	var deps []string
	for _, f := range strings.Fields(list) {
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		f = filepath.Clean(f)
		if !seen[f] {
			seen[f] = true
			deps = append(deps, f)
		}
	}
	sort.Strings(deps)
	return deps, nil
}

var diagRE = regexp.MustCompile(`^(.+?):(\d+):(\d+): (?:fatal )?error: (.*)$`)

// compileError locates the first error in clang's output.
func compileError(out string, u Unit) error {
	e := &CompileError{Output: strings.TrimSpace(out), Unit: u.Source, TargetName: u.Target.Suffix()}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m := diagRE.FindStringSubmatch(sc.Text()); m != nil {
			e.File = m[1]
			if !filepath.IsAbs(e.File) {
				e.File = filepath.Join(filepath.Dir(u.Source), e.File)
			}
			e.Line, _ = strconv.Atoi(m[2])
			e.Col, _ = strconv.Atoi(m[3])
			e.Msg = m[4]
			break
		}
	}
	return e
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// LinuxToolsBpftool is where Ubuntu keeps the bpftool of each kernel's
// tools (linux-tools-generic installs the generic kernel's).
const LinuxToolsBpftool = "/usr/lib/linux-tools/*/bpftool"

// Bpftool returns the bpftool to run: the one on PATH when it runs, else
// the newest that runs of those matching tools (LinuxToolsBpftool). Ubuntu
// has no bpftool package: its /usr/sbin/bpftool is a wrapper that runs the
// running kernel's own and fails where those are not installed, as in a
// container or on GitHub's runners (Azure kernels).
func Bpftool(ctx context.Context, tools string) (string, error) {
	runs := func(path string) bool { return exec.CommandContext(ctx, path, "version").Run() == nil }
	path, err := exec.LookPath("bpftool")
	if err == nil && runs(path) {
		return path, nil
	}
	found, _ := filepath.Glob(tools)
	sort.Slice(found, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(found[j])), filepath.Base(filepath.Dir(found[i])))
	})
	for _, p := range found {
		if runs(p) {
			return p, nil
		}
	}
	if err == nil {
		return "", fmt.Errorf("%s does not run (Ubuntu's wrapper without the running kernel's tools?) and no %s does: install linux-tools-generic", path, tools)
	}
	return "", fmt.Errorf("no bpftool on PATH or at %s: install bpftool (Debian) or linux-tools-generic (Ubuntu)", tools)
}

// versionLess orders versions such as 6.8.0-90-generic and
// 6.8.0-155-generic: runs of digits by number, the rest by text.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da != db {
			return da
		}
		ra, rb := leadingRun(a, da), leadingRun(b, da)
		if ra != rb {
			if da {
				na, _ := strconv.ParseUint(ra, 10, 64)
				nb, _ := strconv.ParseUint(rb, 10, 64)
				if na != nb {
					return na < nb
				}
			}
			return ra < rb
		}
		a, b = a[len(ra):], b[len(rb):]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// leadingRun is s's leading run of digits (or of other bytes).
func leadingRun(s string, digits bool) string {
	i := 0
	for i < len(s) && isDigit(s[i]) == digits {
		i++
	}
	return s[:i]
}
