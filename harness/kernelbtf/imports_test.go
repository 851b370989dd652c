package kernelbtf

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImports holds the package to the standard library and its two
// decompressors: nothing from the project, and so never cilium/ebpf.
func TestImports(t *testing.T) {
	t.Parallel()
	allowed := []string{"github.com/klauspost/compress/zstd", "github.com/ulikunitz/xz"}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			std := !strings.Contains(strings.Split(path, "/")[0], ".")
			assert.True(t, std || slices.Contains(allowed, path), "%s imports %s", file, path)
		}
	}
}
