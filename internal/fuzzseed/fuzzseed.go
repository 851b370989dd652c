// Package fuzzseed keeps hand-made seeds of Go fuzz targets committed
// under testdata/fuzz in step with the tests that make them.
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bytes is a corpus file of a fuzz target that takes one []byte.
func Bytes(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

// Check wants testdata/fuzz/TARGET/seed-NAME to hold each of seeds; with
// update it writes them instead.
func Check[S ~string | ~[]byte](t testing.TB, target string, seeds map[string]S, update bool) {
	t.Helper()
	for name, data := range seeds {
		path := filepath.Join("testdata", "fuzz", target, "seed-"+name)
		want := Bytes([]byte(data))
		if update {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, want, 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err, "run with the test's update flag to write")
		assert.Equal(t, string(want), string(got), path)
	}
}

// NoOthers wants no seed-* file in testdata/fuzz/TARGET beyond seeds.
func NoOthers[S ~string | ~[]byte](t testing.TB, target string, seeds map[string]S) {
	t.Helper()
	committed, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "seed-*"))
	require.NoError(t, err)
	for _, p := range committed {
		_, ok := seeds[strings.TrimPrefix(filepath.Base(p), "seed-")]
		assert.True(t, ok, "%s is no seed the test makes: remove it", p)
	}
}

// Numbered writes seeds as testdata/fuzz/TARGET/seed-00, seed-01, …,
// in place of the seed files there.
func Numbered[S ~string | ~[]byte](t testing.TB, target string, seeds []S) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, o := range old {
		require.NoError(t, os.Remove(o))
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i, s := range seeds {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), Bytes([]byte(s)), 0o644))
	}
}

// ReadNumbered reads back the seeds Numbered wrote for target, in order:
// each file must be a corpus file of one []byte.
func ReadNumbered(t testing.TB, target string) [][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "seed-*"))
	require.NoError(t, err)
	seeds := make([][]byte, len(paths))
	for i, path := range paths {
		require.Equal(t, fmt.Sprintf("seed-%02d", i), filepath.Base(path), "seeds are numbered from 00 without gaps")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		quoted, ok := strings.CutPrefix(string(data), "go test fuzz v1\n[]byte(")
		require.True(t, ok, "%s: not a corpus file of one []byte", path)
		quoted, ok = strings.CutSuffix(quoted, ")\n")
		require.True(t, ok, "%s: not a corpus file of one []byte", path)
		s, err := strconv.Unquote(quoted)
		require.NoError(t, err, path)
		seeds[i] = []byte(s)
	}
	return seeds
}
