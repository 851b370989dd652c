package initramfs

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInitramfsLayout(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteInitramfs(&buf, []File{
		{Path: "/init", Mode: 0o755, Data: []byte("#!agent")},
		{Path: "/dev/console", Mode: 0o600, Char: true, Major: 5, Minor: 1},
		{Path: "/ksystest/cases.json", Mode: 0o644, Data: []byte(`{}`)},
	}))
	b := buf.Bytes()
	assert.Zero(t, len(b)%4, "newc archives are 4-byte aligned")
	// Parents come before their children, sorted.
	idx := func(s string) int { return bytes.Index(b, []byte(s+"\x00")) }
	assert.Less(t, idx("dev"), idx("dev/console"))
	assert.Less(t, idx("ksystest"), idx("ksystest/cases.json"))
	assert.Greater(t, idx("TRAILER!!!"), idx("ksystest/cases.json"))
	// Same input, same bytes.
	var again bytes.Buffer
	require.NoError(t, WriteInitramfs(&again, []File{
		{Path: "/ksystest/cases.json", Mode: 0o644, Data: []byte(`{}`)},
		{Path: "/dev/console", Mode: 0o600, Char: true, Major: 5, Minor: 1},
		{Path: "/init", Mode: 0o755, Data: []byte("#!agent")},
	}))
	assert.Equal(t, b, again.Bytes())
}

// Cross-check with GNU cpio where it is installed: it must list and extract
// what we wrote. Skips only when the tool is absent; the layout test above
// does not depend on it.
func TestInitramfsReadByCpio(t *testing.T) {
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("cpio not installed; layout is covered by TestInitramfsLayout")
	}
	var buf bytes.Buffer
	require.NoError(t, WriteInitramfs(&buf, []File{
		{Path: "/init", Mode: 0o755, Data: []byte("hello")},
		{Path: "/a/b/c.txt", Mode: 0o644, Data: []byte("12345")},
		{Path: "/a/link", Mode: 0o777, Symlink: "b/c.txt"},
	}))
	dir := t.TempDir()
	cmd := exec.Command(cpio, "-idm", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	got, err := os.ReadFile(filepath.Join(dir, "a/b/c.txt"))
	require.NoError(t, err)
	assert.Equal(t, "12345", string(got))
	st, err := os.Stat(filepath.Join(dir, "init"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())
	target, err := os.Readlink(filepath.Join(dir, "a/link"))
	require.NoError(t, err)
	assert.Equal(t, "b/c.txt", target)
}

// What the kernel would unpack otherwise than written is refused.
func TestInitramfsRefuses(t *testing.T) {
	for _, files := range [][]File{
		{{Path: "init"}},
		{{Path: "/"}},
		{{Path: "/a/../init"}},
		{{Path: "//init"}},
		{{Path: "/init/"}},
		{{Path: "/in\x00it"}},
		{{Path: "/" + strings.Repeat("a", 4096)}},
		{{Path: "/TRAILER!!!"}},
		{{Path: "/TRAILER!!!/x"}}, // its parent's entry would end the archive
		{{Path: "/init"}, {Path: "/init", Data: []byte("again")}},
		{{Path: "/a", Data: []byte("file")}, {Path: "/a/b"}},
		{{Path: "/d", Dir: true, Data: []byte("x")}},
		{{Path: "/c", Char: true, Data: []byte("x")}},
		{{Path: "/c", Char: true, Dir: true}},
		{{Path: "/l", Symlink: "x", Data: []byte("x")}},
		{{Path: "/l", Symlink: "x", Dir: true}},
		{{Path: "/l", Symlink: "x\x00y"}},
		{{Path: "/l", Symlink: strings.Repeat("a", 4096)}},
		{{Path: "/l", Symlink: "/a"}, {Path: "/l/b"}},
	} {
		err := WriteInitramfs(io.Discard, files)
		assert.ErrorContains(t, err, "initramfs", "%+v", files)
	}
	assert.NoError(t, WriteInitramfs(io.Discard, []File{{Path: "/a", Dir: true}, {Path: "/a/b"}, {Path: "/TRAILER"}}))
}
