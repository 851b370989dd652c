package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The catalogue is read as strictly as the host reads events: a field
// the agent does not know is an error, not a silently dropped setting.
func TestReadCatalogueIsStrict(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "cases.json")
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	_, err := readCatalogue(write(`{"version":2,"collections":[],"cases":[{"name":"w","probe":"p","syscall":"write","args":[],"surprise":1}]}`))
	assert.ErrorContains(t, err, `unknown field "surprise"`)
	_, err = readCatalogue(write(`{"version":2,"cases":[]} {"version":2}`))
	assert.ErrorContains(t, err, "text after the catalogue")
	_, err = readCatalogue(write(`{"version":1,"cases":[]}`))
	assert.ErrorContains(t, err, "catalogue version 1, agent speaks 2")
	cat, err := readCatalogue(write(`{"version":2,"collections":[{"name":"ksystest","path":"/p","loader":"ksystest"}],"cases":[]}`))
	require.NoError(t, err)
	assert.Equal(t, "ksystest", cat.Collections[0].Loader)
}
