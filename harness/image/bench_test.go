package image

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParsePackages parses a Packages index the size of bookworm's
// main/binary-amd64 (~64k stanzas), keeping only kernel images, as a
// cold-cache run does once per suite and arch.
func BenchmarkParsePackages(b *testing.B) {
	var idx bytes.Buffer
	for i := 0; i < 64000; i++ {
		name := fmt.Sprintf("pkg-%d", i)
		if i%500 == 0 {
			name = fmt.Sprintf("linux-image-%d-amd64", i)
		}
		fmt.Fprintf(&idx, "Package: %s\nVersion: 1.%d\nArchitecture: amd64\nDepends: libc6 (>= 2.34), libfoo%d\n"+
			"Description: a package\n and a long description line that parsers must skip\n"+
			"Filename: pool/main/p/%s.deb\nSize: 12345\nSHA256: %064d\n\n", name, i, i, name, i)
	}
	data := idx.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pkgs, err := ParsePackages(bytes.NewReader(data), func(n string) bool { return strings.HasPrefix(n, "linux-image-") })
		if err != nil || len(pkgs) != 128 {
			b.Fatal(err, len(pkgs))
		}
	}
}

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
