package yamlfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type doc struct {
	A any    `yaml:"a"`
	B any    `yaml:"b"`
	L []item `yaml:"l"`
}

type item struct {
	X int `yaml:"x"`
}

// What would crash the YAML library, or make it work without bound, is
// an error said at once.
func TestDecodeBounds(t *testing.T) {
	bomb := "a: [&a0 [x, x, x, x, x, x, x, x, x, x]"
	for i := 1; i < 9; i++ {
		bomb += fmt.Sprintf(", &a%d [%s]", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	bomb += "]\n"
	var block strings.Builder
	block.WriteString("a:\n")
	for i := 1; i <= 150; i++ {
		fmt.Fprintf(&block, "%s- \n", strings.Repeat(" ", i))
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"library panic":  {"l: !\n", "YAML the decoder cannot read (it failed: runtime error: invalid memory address or nil pointer dereference)"},
		"alias bomb":     {bomb, "aliases expand to more than 10000 nodes"},
		"alias in self":  {"a: &x [1, *x]\n", "line 1: alias *x is inside its own anchor"},
		"nested self":    {"a: &x {b: [&y 1, *x]}\n", "alias *x is inside its own anchor"},
		"deep flow":      {"a: " + strings.Repeat("[", 400000) + strings.Repeat("]", 400000) + "\n", "collections nest more than 100 deep"},
		"deep block":     {block.String(), "collections nest more than 100 deep"},
		"compact blocks": {"a: " + strings.Repeat("- ", 200) + "x\n", "collections nest more than 100 deep"},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			var v doc
			err := Decode([]byte(tc.yaml), &v)
			assert.ErrorContains(t, err, tc.want)
			// Bounded work, not a speed: unbounded work on these inputs
			// takes minutes; -race on a loaded 2-core machine takes 4 s.
			assert.Less(t, time.Since(start), 30*time.Second)
		})
	}

	var v doc
	require.NoError(t, Decode([]byte("a: &x {k: [1, 2]}\nb: [*x, *x]\n"), &v), "aliases that reuse are fine")
	assert.Equal(t, []any{map[string]any{"k": []any{uint64(1), uint64(2)}}, map[string]any{"k": []any{uint64(1), uint64(2)}}}, v.B)
	assert.ErrorContains(t, Decode([]byte("a: 1\nc: 2\n"), &v), `unknown field "c"`, "strict")
}

// Read takes a regular file of at most MaxSize, and nothing else.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.yaml"), make([]byte, MaxSize+1), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "max.yaml"), make([]byte, MaxSize), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	disk := os.DirFS(dir)
	for name, want := range map[string]string{"big.yaml": "larger than 1024 KiB", "sub": "not a regular file but a directory", "none": "no such file"} {
		_, err := Read(disk, name)
		assert.ErrorContains(t, err, want, name)
	}
	data, err := Read(disk, "max.yaml")
	require.NoError(t, err)
	assert.Len(t, data, MaxSize)

	_, err = Read(os.DirFS("/dev"), "zero")
	assert.ErrorContains(t, err, "not a regular file but a device")

	data, err = Read(fstest.MapFS{"m.yaml": {Data: []byte("a: 1\n")}}, "m.yaml")
	require.NoError(t, err)
	assert.Equal(t, "a: 1\n", string(data))
}
