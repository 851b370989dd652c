package initramfs

import (
	"bytes"
	"testing"
)

// BenchmarkWriteInitramfs writes a 4 MB agent and a catalogue.
func BenchmarkWriteInitramfs(b *testing.B) {
	agent := bytes.Repeat([]byte("agent"), 4<<20/5)
	files := []File{
		{Path: "/init", Mode: 0o755, Data: agent},
		{Path: "/dev/console", Mode: 0o600, Char: true, Major: 5, Minor: 1},
		{Path: "/ksystest/cases.json", Mode: 0o644, Data: []byte(`{"version":1}`)},
	}
	b.SetBytes(int64(len(agent)))
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		if err := WriteInitramfs(&out, files); err != nil {
			b.Fatal(err)
		}
	}
}
