// Package guestbuild builds the programs a guest runs, for each guest
// arch, from the source the ksystest binary carries (ksystest.GuestSource):
// the Go ones (the agent that is its PID 1, the exec init, the 32-bit
// compat helper, the Go workloads) with the go tool, the C workloads with
// Debian's cross gcc, static. An installed ksystest therefore works from
// any directory: the first run builds each program, later runs find it in
// the cache, keyed by a hash of what it is made from, so nothing is
// rebuilt unless its inputs changed. It imports arch, archive and cache, nothing
// that boots.
package guestbuild

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
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/cache"
)

// Guest programs, by their directory under cmd/.
const (
	Agent  = "ksystest-agent"
	Compat = "ksystest-compat"
	// Exec is PID 1 of ksystest exec; PowerOff the trivial init of the
	// boot floor.
	Exec     = "ksystest-exec"
	PowerOff = "ksystest-poweroff"
)

// GoBuilder builds Go guest programs from a module's source.
type GoBuilder struct {
	// Source is the module: go.mod at its root, the programs under cmd/.
	Source fs.FS
	// Cache keeps built programs and the materialised source.
	Cache *cache.Cache
	// Go is the go tool; empty means "go" from PATH.
	Go string
	// Logf reports builds; nil is quiet.
	Logf func(format string, args ...any)

	once    sync.Once
	srcHash string
	srcErr  error
}

// ErrNoGo means the go tool is missing: building guest programs needs it.
var ErrNoGo = errors.New("the go tool is needed to build ksystest's guest programs (install Go, or pass --agent-dir with prebuilt ones)")

// Path returns the program cmd (Agent, Compat, Exec, PowerOff: a
// directory under cmd/) built for port t, building it when the cache has
// none for this source.
func (b *GoBuilder) Path(ctx context.Context, cmd string, t arch.GoTarget) (string, error) {
	return b.Package(ctx, "cmd/"+cmd, t)
}

// Package returns the main package in directory dir of the source (slash
// separated, from the module's root: "workloads/httpget") built for port
// t, building it when the cache has none for this source. Programs that
// are not ksystest's commands, such as workloads, live outside cmd/.
func (b *GoBuilder) Package(ctx context.Context, dir string, t arch.GoTarget) (string, error) {
	if !fs.ValidPath(dir) || dir == "." {
		return "", fmt.Errorf("build %q: not a package directory of the source", dir)
	}
	hash, err := b.hash()
	if err != nil {
		return "", err
	}
	name := strings.ReplaceAll(dir, "/", "-") + "." + t.Key()
	out := b.Cache.Path("guest", hash[:16], name)
	from := fmt.Sprintf("%s for %s from guest source %s", dir, t, hash)
	_, err = b.Cache.File(ctx, "guest-"+hash[:16]+"-"+name, out, from, func(tmp string) (string, error) {
		return b.build(ctx, hash, dir, t, tmp)
	})
	if err != nil {
		return "", fmt.Errorf("build %s for %s: %w", dir, t, err)
	}
	return out, nil
}

func (b *GoBuilder) build(ctx context.Context, hash, dir string, t arch.GoTarget, tmp string) (string, error) {
	goTool := b.Go
	if goTool == "" {
		goTool = "go"
	}
	if _, err := exec.LookPath(goTool); err != nil {
		return "", ErrNoGo
	}
	src, err := b.materialise(ctx, hash)
	if err != nil {
		return "", err
	}
	if b.Logf != nil {
		b.Logf("building %s for %s", dir, t)
	}
	out := filepath.Join(tmp, path.Base(dir))
	c := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./"+dir)
	c.Dir = src
	c.Env = append(cleanEnv(os.Environ()), t.Env()...)
	c.Env = append(c.Env, "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// cleanEnv drops what would make the go tool build something else than
// asked: the caller's target, flags and workspace.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOOS", "GOARCH", "GOARM", "GOMIPS", "GOMIPS64", "GO386", "GOAMD64", "GOPPC64", "GORISCV64",
			"CGO_ENABLED", "GOFLAGS", "GOWORK", "GOEXPERIMENT":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// materialise writes the source into the cache once per hash, so the go
// tool can build from it.
func (b *GoBuilder) materialise(ctx context.Context, hash string) (string, error) {
	dir := b.Cache.Path("guest", hash[:16], "src")
	_, err := b.Cache.File(ctx, "guest-src-"+hash[:16], dir, "guest source "+hash, func(tmp string) (string, error) {
		root := filepath.Join(tmp, "src")
		err := walk(b.Source, func(name string, data []byte) error {
			p := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			return os.WriteFile(p, data, 0o644)
		})
		return root, err
	})
	return dir, err
}

// hash is the SHA256 of every source file (name and content), computed
// once.
func (b *GoBuilder) hash() (string, error) {
	b.once.Do(func() {
		h := sha256.New()
		b.srcErr = walk(b.Source, func(name string, data []byte) error {
			fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
			h.Write(data)
			return nil
		})
		b.srcHash = hex.EncodeToString(h.Sum(nil))
	})
	return b.srcHash, b.srcErr
}

// walk calls fn for every file a build needs, in a fixed order: Go files
// other than tests, and the module files.
func walk(fsys fs.FS, fn func(name string, data []byte) error) error {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := path.Base(p)
		if base == "go.mod" || base == "go.sum" || (strings.HasSuffix(base, ".go") && !strings.HasSuffix(base, "_test.go")) {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("guest program source: %w", err)
	}
	sort.Strings(names)
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return err
		}
		if err := fn(n, data); err != nil {
			return err
		}
	}
	return nil
}
