package archive

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiscoverMirror(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	oneLine := write("sources.list", `# comment
deb [signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main
`)
	deb822 := write("debian.sources", `Types: deb
URIs: http://other.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src deb
URIs: http://other.example/debian
Suites: bookworm bookworm-updates
Components: main
`)
	t.Setenv(MirrorEnv, "")

	m, from, err := DiscoverMirror("", []string{oneLine})
	require.NoError(t, err)
	assert.Equal(t, "http://mirror.example/debian", m)
	assert.Equal(t, oneLine, from)

	m, _, err = DiscoverMirror("", []string{deb822})
	require.NoError(t, err)
	assert.Equal(t, "http://other.example/debian", m)

	t.Setenv(MirrorEnv, "http://env.example/debian/")
	m, from, err = DiscoverMirror("", []string{oneLine})
	require.NoError(t, err)
	assert.Equal(t, "http://env.example/debian", m)
	assert.Equal(t, MirrorEnv, from)

	m, _, err = DiscoverMirror("http://flag.example/d", nil)
	require.NoError(t, err)
	assert.Equal(t, "http://flag.example/d", m)

	t.Setenv(MirrorEnv, "")
	_, _, err = DiscoverMirror("", []string{filepath.Join(dir, "none*")})
	assert.ErrorIs(t, err, ErrNoMirror)
}
