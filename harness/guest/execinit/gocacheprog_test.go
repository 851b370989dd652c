package execinit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The go command builds through CacheProg as through its own cache: a
// build with an empty local cache and the first build's cache as the
// host's compiles nothing (every package action a hit), and what it
// builds lands in local, never in host.
func TestCacheProgGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with the go command")
	}
	dir := t.TempDir()
	// The exec init serves CacheProg with CacheProgLocal, a guest's
	// directory; here this test binary serves it with one of the test's.
	local := filepath.Join(dir, "local")
	wrapper := filepath.Join(dir, "cacheprog")
	require.NoError(t, os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\nexec %s \"$@\"\n", os.Args[0])), 0o755))

	mod := filepath.Join(dir, "mod")
	require.NoError(t, os.MkdirAll(mod, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module x\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "main.go"), []byte("package main\n\nimport (\"fmt\"; \"strconv\")\n\nfunc main() { fmt.Println(strconv.Itoa(1)) }\n"), 0o644))
	goBuild := func(cache, prog string) string {
		cmd := exec.Command("go", "build", "-x", "-o", filepath.Join(dir, "x"), ".")
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOCACHE="+cache, "GOFLAGS=", "CGO_ENABLED=0", "GOCACHEPROG="+prog, "KSYSTEST_CACHEPROG_LOCAL="+local)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	host := filepath.Join(dir, "host")
	first := goBuild(host, "")
	require.Contains(t, first, "/compile ", "the first build compiles")

	second := goBuild(filepath.Join(dir, "guest"), wrapper+" "+host)
	assert.NotContains(t, second, "/compile ", "every package from the host's cache")
	hostFiles := countFiles(t, host)

	// A change: the guest compiles it, keeps it in local, and leaves
	// the host's cache as it was.
	require.NoError(t, os.WriteFile(filepath.Join(mod, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(2) }\n"), 0o644))
	third := goBuild(filepath.Join(dir, "guest2"), wrapper+" "+host)
	assert.Contains(t, third, "/compile ")
	assert.Equal(t, hostFiles, countFiles(t, host), "nothing written to the host's cache")
	assert.NotZero(t, countFiles(t, local))

	// A test result the host cached is not the guest's: its test runs.
	require.NoError(t, os.WriteFile(filepath.Join(mod, "x_test.go"), []byte("package main\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) {}\n"), 0o644))
	goTest := func(cache, prog string) string {
		cmd := exec.Command("go", "test", ".")
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOCACHE="+cache, "GOFLAGS=", "CGO_ENABLED=0", "GOCACHEPROG="+prog, "KSYSTEST_CACHEPROG_LOCAL="+local)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	goTest(host, "")
	require.Contains(t, goTest(host, ""), "(cached)", "the host's result is cached there")
	assert.NotContains(t, goTest(filepath.Join(dir, "guest3"), wrapper+" "+host), "(cached)")
}

// TestMain serves CacheProg instead of testing when TestCacheProgGoBuild
// runs this binary as the go command's cache program.
func TestMain(m *testing.M) {
	if local := os.Getenv("KSYSTEST_CACHEPROG_LOCAL"); local != "" {
		if err := CacheProg(os.Stdin, os.Stdout, local, os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	}))
	return n
}

// The protocol by hand: the first answer names the commands; a get of a
// host entry whose output is missing, of another size or no compiled
// package is a miss; a
// put's body comes back from a get; close ends it.
func TestCacheProgProtocol(t *testing.T) {
	local, host := t.TempDir(), t.TempDir()
	action, output := bytes.Repeat([]byte{0xab}, hashSize), bytes.Repeat([]byte{0xcd}, hashSize)
	put := func(dir string, action, output []byte, size int, body string) {
		for _, f := range []struct{ path, data string }{
			{cacheFile(dir, action, "a"), fmt.Sprintf("v1 %x %x %20d %20d\n", action, output, size, 1)},
			{cacheFile(dir, output, "d"), body},
		} {
			require.NoError(t, os.MkdirAll(filepath.Dir(f.path), 0o755))
			require.NoError(t, os.WriteFile(f.path, []byte(f.data), 0o644))
		}
	}
	put(host, action, output, 13, "!<arch>\nhello")
	result := bytes.Repeat([]byte{0x55}, hashSize)
	put(host, result, bytes.Repeat([]byte{0x66}, hashSize), 20, "ok  \tx\t0.01s\nPASS\n")
	short := bytes.Repeat([]byte{0x11}, hashSize)
	put(host, short, bytes.Repeat([]byte{0x22}, hashSize), 9, "cut")
	newAction, newOutput := bytes.Repeat([]byte{0x33}, hashSize), bytes.Repeat([]byte{0x44}, hashSize)

	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	enc.Encode(cacheRequest{ID: 1, Command: "get", ActionID: action})
	enc.Encode(cacheRequest{ID: 2, Command: "get", ActionID: short})
	enc.Encode(cacheRequest{ID: 3, Command: "put", ActionID: newAction, OutputID: newOutput, BodySize: 3})
	enc.Encode(base64.StdEncoding.EncodeToString([]byte("new")))
	enc.Encode(cacheRequest{ID: 4, Command: "get", ActionID: newAction})
	enc.Encode(cacheRequest{ID: 5, Command: "get", ActionID: []byte("short")})
	enc.Encode(cacheRequest{ID: 6, Command: "get", ActionID: result})
	enc.Encode(cacheRequest{ID: 7, Command: "close"})
	var out bytes.Buffer
	require.NoError(t, CacheProg(&in, &out, local, host))

	var got []cacheResponse
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r cacheResponse
		require.NoError(t, dec.Decode(&r))
		got = append(got, r)
	}
	require.Len(t, got, 8)
	assert.Equal(t, []string{"get", "put", "close"}, got[0].KnownCommands)
	assert.Equal(t, output, got[1].OutputID)
	assert.Equal(t, int64(13), got[1].Size)
	assert.Equal(t, cacheFile(host, output, "d"), got[1].DiskPath)
	assert.True(t, got[2].Miss, "an output of another size than its entry says")
	assert.Equal(t, cacheFile(local, newOutput, "d"), got[3].DiskPath)
	assert.Equal(t, newOutput, got[4].OutputID)
	data, err := os.ReadFile(got[4].DiskPath)
	require.NoError(t, err)
	assert.Equal(t, "new", string(data))
	assert.True(t, strings.HasPrefix(got[4].DiskPath, local))
	assert.Contains(t, got[5].Err, "action ID of 5 bytes")
	assert.True(t, got[6].Miss, "a host entry that is no compiled package (a test's result)")
	assert.Equal(t, int64(7), got[7].ID)
}
