package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dataMember returns the compressed data member of a .deb made by buildDeb.
func dataMember(t *testing.T, deb []byte) (string, []byte) {
	t.Helper()
	var name string
	var data []byte
	// Members: debian-binary (4 bytes), control.tar.xz (3 bytes + pad), data.
	off := len(arMagic)
	for off+60 <= len(deb) {
		hdr := deb[off : off+60]
		var size int
		_, err := fmt.Sscan(strings.TrimSpace(string(hdr[48:58])), &size)
		require.NoError(t, err)
		name = strings.TrimSpace(string(hdr[0:16]))
		data = deb[off+60 : off+60+size]
		off += 60 + size + size%2
	}
	return name, data
}

// A data archive whose compressed stream is cut or damaged after the tar's
// end is an error, whatever the compression and decoder.
func TestWalkDebDamagedStream(t *testing.T) {
	entries := []tarEntry{{Name: "./boot/vmlinuz-1", Body: strings.Repeat("kernel", 1000)}}
	walk := func(deb []byte) error {
		return WalkDeb(bytes.NewReader(deb), func(string, *tar.Header, io.Reader) error { return nil })
	}
	for _, comp := range []string{"xz", "gz", "zst"} {
		deb := buildDeb(t, comp, entries...)
		require.NoError(t, walk(deb), comp)
		member, data := dataMember(t, deb)
		cut := data[:len(data)-6]
		assert.Error(t, walk(arDeb(member, cut)), "%s cut short", comp)
	}
	t.Run("xz without the tool", func(t *testing.T) {
		t.Setenv("PATH", "")
		deb := buildDeb(t, "xz", entries...)
		require.NoError(t, walk(deb))
		member, data := dataMember(t, deb)
		assert.Error(t, walk(arDeb(member, data[:len(data)-6])))
	})
}
