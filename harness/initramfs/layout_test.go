package initramfs

import (
	"os"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadLayouts(t *testing.T) {
	l, err := ReadLayouts(os.DirFS("../../images"), "initramfs.yaml")
	require.NoError(t, err)
	files, err := l.Files("floor", "6.1.0-50-arm64", func(e LayoutEntry, mode uint32) ([]File, error) {
		return []File{{Path: e.Path, Mode: mode, Data: []byte("init")}}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, []File{
		{Path: "/init", Mode: 0o755, Data: []byte("init")},
		{Path: "/dev/console", Mode: 0o600, Char: true, Major: 5, Minor: 1},
	}, files)

	// {release} is the kernel's; a source with nothing leaves its entry out.
	files, err = l.Files("agent", "6.1.0-50-arm64", func(e LayoutEntry, mode uint32) ([]File, error) {
		if e.Source == "compat" {
			return nil, nil
		}
		return []File{{Path: e.Path, Mode: mode}}, nil
	})
	require.NoError(t, err)
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	assert.Contains(t, paths, "/boot/config-6.1.0-50-arm64")
	assert.NotContains(t, paths, "/ksystest/compat")
}

func TestLayoutsRefuseWhatCannotBeBuilt(t *testing.T) {
	bad := `apiVersion: ksystest/v1
guests:
  agent:
    - {path: /init, mode: "0755", source: agent}
    - {path: /init, mode: "0755", source: exec-init}
    - {path: relative, source: probes}
    - {path: /dev/console, mode: "9", char: "5"}
    - {path: /x, source: agent, dir: true}
    - {path: "/boot/{kernel}", source: kernel-config}
  floor:
    - {path: /init, mode: "0755", source: poweroff}
  nope:
    - {path: /init, source: agent}
`
	_, err := ReadLayouts(fstest.MapFS{"l.yaml": {Data: []byte(bad)}}, "l.yaml")
	require.Error(t, err)
	for _, want := range []string{
		`l.yaml:5: guests.agent[1].path: "/init" twice`,
		`guests.agent[1].source: "exec-init": a agent guest's sources are`,
		`guests.agent[2].path: "relative": want a clean absolute path`,
		`guests.agent[3].char: char "5": want MAJOR:MINOR`,
		`guests.agent[3].mode: mode "9": want octal permissions`,
		`guests.agent[4]: give one of source, char or dir`,
		`the only placeholder is {release}`,
		`guests: no exec guest`,
		`guests.nope: unknown kind of guest`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}
