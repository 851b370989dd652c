package guestbuild

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/internal/vmtest"
)

// The Go workload builds from the carried source like the agent, from
// outside cmd/, for the guest's machine, and runs to the end: on the host,
// and under qemu-user for arm64. Not every port: each costs up to 20 s
// from a cold Go cache, for what Go's own tests of its ports already show.
func TestPackageHTTPGet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program per port")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go tool")
	}
	b := &GoBuilder{Source: ksystest.GuestSource(), Cache: &cache.Cache{Dir: t.TempDir()}}
	for _, name := range []string{"x86_64", "arm64"} {
		t.Run(name, func(t *testing.T) {
			a, err := arch.Lookup(name)
			require.NoError(t, err)
			var argv []string
			if !a.Native() {
				q, err := exec.LookPath(a.QEMUUser + "-static")
				if err != nil {
					vmtest.Missing(t, fmt.Sprintf("running %s programs needs %s-static (package qemu-user-static)", name, a.QEMUUser))
				}
				argv = []string{q, "-cpu", a.CPU} // the guest's CPU
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			start := time.Now()
			p, err := b.Package(ctx, HTTPGet, a.Go)
			require.NoError(t, err)
			f, err := elf.Open(p)
			require.NoError(t, err)
			defer f.Close()
			require.NoError(t, a.MatchELF(f))
			info, err := os.Stat(p)
			require.NoError(t, err)
			t.Logf("%s for %s: %d bytes, built in %v", HTTPGet, a.Go, info.Size(), time.Since(start).Round(time.Millisecond))

			argv = append(argv, p)
			out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				t.Fatalf("httpget: %v: %s", err, exit.Stderr)
			}
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			require.Len(t, lines, 3, "%s", out)
			for _, l := range lines {
				assert.Regexp(t, regexp.MustCompile(`^GET http://127\.0\.0\.1:\d+/page/\d: 200 OK, 17 bytes$`), l)
			}
		})
	}
}

func TestPackageOutsideSource(t *testing.T) {
	b := &GoBuilder{Source: ksystest.GuestSource(), Cache: &cache.Cache{Dir: t.TempDir()}}
	for _, dir := range []string{"../elsewhere", "/abs", ".", ""} {
		_, err := b.Package(context.Background(), dir, arch.GoTarget{GOARCH: "amd64"})
		assert.ErrorContains(t, err, "not a package directory of the source", dir)
	}
}
