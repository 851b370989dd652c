package newc

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"

	"github.com/ksystest/ksystest/internal/fuzzseed"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpus")

// entry writes one newc entry the way harness/initramfs does.
func entry(ino, mode uint32, name string, data []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		Magic, ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	b.WriteString(name)
	b.WriteByte(0)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(data)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func archive(entries ...[]byte) []byte {
	return append(bytes.Join(entries, nil), entry(0, 0, Trailer, nil)...)
}

func TestReadsEntriesInOrder(t *testing.T) {
	data := archive(
		entry(1, TypeDir|0o755, "ksystest", nil),
		entry(2, TypeReg|0o644, "ksystest/cases.json", []byte("{}\n")),
		entry(3, TypeSymlink|0o777, "bin", []byte("ksystest")),
		entry(4, TypeReg|0o755, "init", []byte("odd")),
	)
	r := NewReader(bytes.NewReader(data))
	var got []string
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		body := []byte{}
		if h.Name != "init" { // an entry left unread is skipped
			body, err = io.ReadAll(r)
			require.NoError(t, err)
		}
		got = append(got, fmt.Sprintf("%s %o %q", h.Name, h.Mode, body))
	}
	assert.Equal(t, []string{`ksystest 40755 ""`, `ksystest/cases.json 100644 "{}\n"`, `bin 120777 "ksystest"`, `init 100755 ""`}, got)
	_, err := r.Next()
	assert.ErrorIs(t, err, io.EOF, "after the trailer")
}

func TestRefusesDamage(t *testing.T) {
	good := archive(entry(2, TypeReg|0o644, "a", []byte("data")))
	for name, data := range map[string][]byte{
		"cut in the data":     good[:len(good)-130],
		"cut in the header":   good[:50],
		"no trailer":          entry(2, TypeReg|0o644, "a", []byte("data")),
		"bad magic":           append([]byte("070707"), good[6:]...),
		"bad hex":             append(append([]byte(Magic), "zzzzzzzz"...), good[14:]...),
		"name without NUL":    bytes.Replace(good, []byte("a\x00"), []byte("ab"), 1),
		"name size too large": bytes.Replace(good, []byte("0000000200000000"), []byte("0000ffff00000000"), 1),
	} {
		r := NewReader(bytes.NewReader(data))
		var err error
		for err == nil {
			if _, err = r.Next(); err == nil {
				_, err = io.ReadAll(r)
			}
		}
		assert.False(t, errors.Is(err, io.EOF), "%s: %v", name, err)
	}
}

// FuzzReader: any bytes end in entries, io.EOF or an error, never a panic,
// and never more data than the archive holds.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		var total int64
		for range 1 << 12 {
			h, err := r.Next()
			if err != nil {
				return
			}
			assert.LessOrEqual(t, len(h.Name), MaxName)
			n, err := io.Copy(io.Discard, r)
			total += n
			assert.LessOrEqual(t, total, int64(len(data)))
			if err != nil {
				return
			}
		}
	})
}

func TestFuzzSeeds(t *testing.T) {
	seeds := map[string][]byte{
		"files":   archive(entry(1, TypeDir|0o755, "d", nil), entry(2, TypeReg|0o644, "d/f", []byte("abc"))),
		"cut":     archive(entry(2, TypeReg|0o644, "a", []byte("data")))[:120],
		"trailer": archive(),
	}
	fuzzseed.Check(t, "FuzzReader", seeds, *updateSeeds)
	fuzzseed.NoOthers(t, "FuzzReader", seeds)
}
