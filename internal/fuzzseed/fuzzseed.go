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

// Corpus keeps testdata/fuzz/TARGET/seed-00, seed-01, … equal to inputs,
// each one fuzz input of any number of []byte and string arguments: with
// update it writes them (removing the seed files there before), else it
// wants each committed seed to hold exactly its input, and no other seed
// beside them. Inputs the fuzzers found (not named seed-*) stay.
func Corpus(t testing.TB, target string, inputs [][]any, update bool) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	render := func(args []any) []byte {
		b := []byte("go test fuzz v1\n")
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				b = fmt.Appendf(b, "[]byte(%q)\n", a)
			case string:
				b = fmt.Appendf(b, "string(%q)\n", a)
			default:
				t.Fatalf("%s: a seed argument of type %T", target, a)
			}
		}
		return b
	}
	if update {
		old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
		for _, o := range old {
			require.NoError(t, os.Remove(o))
		}
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	for i, args := range inputs {
		path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
		if update {
			require.NoError(t, os.WriteFile(path, render(args), 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err, "run the test with its update flag to write the seeds")
		assert.Equal(t, string(render(args)), string(got), path)
	}
	committed, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	assert.Len(t, committed, len(inputs), "%s: seeds the test does not make", dir)
}
