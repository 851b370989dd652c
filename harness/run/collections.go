package run

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ksystest/ksystest/harness/bpfbuild"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/initramfs"
	"github.com/ksystest/ksystest/harness/kernelbtf"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
)

// BPFToolchain makes users' collections from source: clang (through
// bpfbuild), libbpf's headers, ksystest.h, and vmlinux.h for the target
// kernel, dumped from its BTF by bpftool.
type BPFToolchain struct {
	Compiler *bpfbuild.Compiler
	// LibbpfHeaders returns an include directory holding bpf/*.h.
	LibbpfHeaders func(ctx context.Context) (string, error)
	// Cache keeps ksystest.h on disk and generated vmlinux.h files.
	Cache *cache.Cache
	// Bpftool is the bpftool binary; empty means bpfbuild.Bpftool's: the one
	// on PATH, or one of Ubuntu's kernel tools.
	Bpftool string
}

// ConfigError is a problem of the configuration found while preparing a
// target (a source that does not compile, a collection without an object
// for the arch): its cell ends as config-error, not as a kernel's fault.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// collectionsOf are the users' collections the planned cases use, in the
// catalogue's order.
func collectionsOf(cat *matrix.Catalogue, planned []matrix.Planned) []matrix.CollectionDef {
	var out []matrix.CollectionDef
	for _, col := range cat.Collections {
		if slices.ContainsFunc(planned, func(p matrix.Planned) bool { return p.Collection == col.Name }) {
			out = append(out, col)
		}
	}
	return out
}

// buildCollections makes each user collection the target's cases use:
// its prebuilt object for the arch, or its source compiled for the arch
// (and, with vmlinux.h, for this kernel).
func (g *guest) buildCollections(ctx context.Context, o *Options, hostBTF string) error {
	for _, col := range collectionsOf(o.Catalogue, g.planned) {
		b := result.Build{Collection: col.Name}
		if len(col.Objects) > 0 {
			obj := col.ObjectPath(g.arch.Name)
			if obj == "" {
				return &ConfigError{fmt.Errorf("collection %s has no object for %s (it has %s)", col.Name, g.arch.Name, strings.Join(objectArches(col), ", "))}
			}
			if _, err := os.Stat(obj); err != nil {
				return &ConfigError{fmt.Errorf("collection %s: %w", col.Name, err)}
			}
			b.Object = obj
		} else if err := g.compile(ctx, o, col, hostBTF, &b); err != nil {
			if b.Error != "" {
				g.builds = append(g.builds, b) // the compiler's whole output, for the results
			}
			return err
		}
		g.builds = append(g.builds, b)
	}
	return nil
}

func objectArches(col matrix.CollectionDef) []string {
	var out []string
	for a := range col.Objects {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func (g *guest) compile(ctx context.Context, o *Options, col matrix.CollectionDef, hostBTF string, b *result.Build) error {
	tc := o.BPF
	if tc == nil || tc.Compiler == nil {
		return &ConfigError{fmt.Errorf("collection %s is a source, and this run compiles none", col.Name)}
	}
	src := col.SourcePath()
	b.Source = src
	text, err := os.ReadFile(src)
	if err != nil {
		return &ConfigError{fmt.Errorf("collection %s: %w", col.Name, err)}
	}
	version, err := tc.Compiler.Version(ctx)
	if err != nil {
		return err
	}
	b.Compiler = version
	include, err := tc.ksystestInclude(ctx, o.Builtin)
	if err != nil {
		return err
	}
	libbpf, err := tc.LibbpfHeaders(ctx)
	if err != nil {
		return fmt.Errorf("libbpf headers: %w", err)
	}
	includes := append(col.IncludePaths(), include, libbpf)
	if wantsVmlinuxH(col, text) {
		if hostBTF == "" {
			return &ConfigError{fmt.Errorf("collection %s includes vmlinux.h, but %s has no BTF to dump it from", col.Name, g.kernel.Package)}
		}
		dir, err := tc.vmlinuxH(ctx, hostBTF)
		if err != nil {
			return err
		}
		b.VmlinuxH = filepath.Join(dir, "vmlinux.h")
		includes = append([]string{dir}, includes...)
	}
	r, err := tc.Compiler.Compile(ctx, bpfbuild.Unit{Source: src, Includes: includes, Defines: col.Defines, Flags: col.CFlags, Target: g.arch.BPF})
	var ce *bpfbuild.CompileError
	if errors.As(err, &ce) {
		b.Error, b.Output = buildError(col, ce), ce.Output
		log := g.buildLog(o, col.Name, ce.Output)
		return &ConfigError{fmt.Errorf("collection %s does not build for %s: %s (the compiler's whole output: %s)", col.Name, g.arch.Name, b.Error, log)}
	}
	if err != nil {
		return err
	}
	b.Object, b.Warnings, b.Cached = r.Object, r.Warnings, r.Cached
	return nil
}

// buildError is a compile error in one line: the first error, where it
// is (relative to the collection's directory), and how many there were.
func buildError(col matrix.CollectionDef, ce *bpfbuild.CompileError) string {
	n := strings.Count(ce.Output, ": error: ")
	if ce.File == "" {
		return fmt.Sprintf("%s (%d errors)", strings.TrimSpace(firstLine(ce.Output)), n)
	}
	file := ce.File
	if rel, err := filepath.Rel(col.Dir, file); err == nil && !strings.HasPrefix(rel, "..") {
		file = rel
	}
	msg := fmt.Sprintf("%s:%d:%d: %s", file, ce.Line, ce.Col, ce.Msg)
	if n > 1 {
		msg += fmt.Sprintf(" (and %d more errors)", n-1)
	}
	return msg
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// buildLog writes the compiler's whole output beside the target's
// console log (OUT/TARGET/build-COLLECTION.log) and says where it is; or,
// without an output directory, where else it is.
func (g *guest) buildLog(o *Options, collection, output string) string {
	if o.OutDir != "" {
		dir := filepath.Join(o.OutDir, g.target.Name)
		path := filepath.Join(dir, "build-"+collection+".log")
		if os.MkdirAll(dir, 0o755) == nil && os.WriteFile(path, []byte(output), 0o644) == nil {
			return path + " and results.json"
		}
	}
	return "results.json"
}

// wantsVmlinuxH: the collection says so, or its source includes one.
func wantsVmlinuxH(col matrix.CollectionDef, text []byte) bool {
	if col.VmlinuxH != nil {
		return *col.VmlinuxH
	}
	return bytes.Contains(text, []byte("vmlinux.h"))
}

// ksystestInclude writes ksystest.h (carried in the binary) to the cache
// once, for users' sources to include.
func (tc *BPFToolchain) ksystestInclude(ctx context.Context, builtin fs.FS) (string, error) {
	data, err := fs.ReadFile(builtin, "bpf/include/ksystest.h")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	dir := tc.Cache.Path("include", h[:16])
	_, err = tc.Cache.File(ctx, "include-"+h[:16], dir, "ksystest.h "+h, func(tmp string) (string, error) {
		out := filepath.Join(tmp, "include")
		if err := os.MkdirAll(out, 0o755); err != nil {
			return "", err
		}
		return out, os.WriteFile(filepath.Join(out, "ksystest.h"), data, 0o644)
	})
	return dir, err
}

// vmlinuxH dumps a vmlinux.h from a kernel's BTF with bpftool, once per
// BTF (by its hash). bpftool reads little-endian BTF everywhere; a
// big-endian kernel's (s390x) is converted first.
func (tc *BPFToolchain) vmlinuxH(ctx context.Context, btfPath string) (string, error) {
	data, err := os.ReadFile(btfPath)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	dir := tc.Cache.Path("vmlinux-h", h[:16])
	_, err = tc.Cache.File(ctx, "vmlinux-h-"+h[:16], dir, "vmlinux.h from BTF "+h, func(tmp string) (string, error) {
		le, err := kernelbtf.ToLittleEndian(data)
		if err != nil {
			return "", fmt.Errorf("BTF %s: %w", btfPath, err)
		}
		in := filepath.Join(tmp, "vmlinux.btf")
		if err := os.WriteFile(in, le, 0o644); err != nil {
			return "", err
		}
		out := filepath.Join(tmp, "include")
		if err := os.MkdirAll(out, 0o755); err != nil {
			return "", err
		}
		bpftool := tc.Bpftool
		if bpftool == "" {
			if bpftool, err = bpfbuild.Bpftool(ctx, bpfbuild.LinuxToolsBpftool); err != nil {
				return "", err
			}
		}
		cmd := exec.CommandContext(ctx, bpftool, "btf", "dump", "file", in, "format", "c")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("bpftool (package bpftool) dumping vmlinux.h: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return out, os.WriteFile(filepath.Join(out, "vmlinux.h"), stdout.Bytes(), 0o644)
	})
	return dir, err
}

// collectionFiles are the users' objects for the initramfs, and the
// catalogue entries that name them.
func (g *guest) collectionFiles(o *Options) ([]initramfs.File, []proto.Collection, error) {
	var files []initramfs.File
	var cols []proto.Collection
	for _, b := range g.builds {
		data, err := os.ReadFile(b.Object)
		if err != nil {
			return nil, nil, err
		}
		path := proto.CollectionsDir + "/" + b.Collection + ".o"
		files = append(files, initramfs.File{Path: path, Mode: 0o644, Data: data})
		var constants map[string]string
		for _, col := range o.Catalogue.Collections {
			if col.Name == b.Collection && len(col.Constants) > 0 {
				constants = map[string]string{}
				for k, v := range col.Constants {
					constants[k] = string(v)
				}
			}
		}
		// Once per loader the planned cases name, in the order they
		// name them.
		var mine []matrix.Planned
		for _, p := range g.planned {
			if p.Collection == b.Collection {
				mine = append(mine, p)
			}
		}
		for _, l := range loadersOf(mine) {
			cols = append(cols, proto.Collection{Name: matrix.CollectionKey(b.Collection, l), Path: path, Loader: l,
				Constants: constants, LoaderArgs: o.LoaderArgs[l]})
		}
	}
	return files, cols, nil
}
