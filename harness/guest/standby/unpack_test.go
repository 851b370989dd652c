package standby

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/initramfs"
)

// What the host writes as an initramfs comes out of Unpack as the kernel
// would lay it out, over what the root holds already.
func TestUnpackAsTheKernelWould(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "init"), []byte("standby"), 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(root, "dev"), 0o755))
	var archive bytes.Buffer
	require.NoError(t, initramfs.WriteInitramfs(&archive, []initramfs.File{
		{Path: "/init", Mode: 0o755, Data: []byte("agent")},
		{Path: "/dev/console", Mode: 0o600, Char: true, Major: 5, Minor: 1},
		{Path: "/ksystest/cases.json", Mode: 0o644, Data: []byte("{}")},
		{Path: "/tmp", Mode: 0o1777, Dir: true},
		{Path: "/ksystest/link", Symlink: "cases.json"},
	}))
	var nodes []string
	files, n, err := Unpack(&archive, root, func(path string, mode, major, minor uint32) error {
		nodes = append(nodes, path)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, files)
	assert.Equal(t, int64(len("agent")+len("{}")+len("cases.json")), n)
	assert.Equal(t, []string{filepath.Join(root, "dev/console")}, nodes)
	data, err := os.ReadFile(filepath.Join(root, "init"))
	require.NoError(t, err)
	assert.Equal(t, "agent", string(data), "replaced")
	st, err := os.Stat(filepath.Join(root, "tmp"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeDir|os.ModeSticky|0o777, st.Mode())
	target, err := os.Readlink(filepath.Join(root, "ksystest/link"))
	require.NoError(t, err)
	assert.Equal(t, "cases.json", target)
	leftovers, _ := filepath.Glob(filepath.Join(root, "*.ksystest-new"))
	assert.Empty(t, leftovers)
}

func TestUnpackRefusesEscapes(t *testing.T) {
	entry := func(name string) []byte {
		// A newc header for a regular file of no data, written by hand:
		// the writer refuses such names.
		h := []byte("070701" + "00000001" + "000081a4" + "00000000" + "00000000" + "00000001" + "00000000" + "00000000" +
			"00000000" + "00000000" + "00000000" + "00000000")
		h = append(h, []byte(hex8(len(name)+1)+"00000000")...)
		h = append(h, name...)
		h = append(h, 0)
		for len(h)%4 != 0 {
			h = append(h, 0)
		}
		return h
	}
	for _, name := range []string{"../escape", "/abs", "a/../../b", "."} {
		root := t.TempDir()
		_, _, err := Unpack(bytes.NewReader(entry(name)), root, nil)
		assert.ErrorContains(t, err, "not a clean relative path", name)
	}
}

func hex8(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	return string(b)
}
