package proto

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/internal/fuzzseed"
)

func testWork() Work {
	return Work{TimeNS: 1_800_000_000_000_000_000, Entropy: bytes.Repeat([]byte{7}, WorkEntropy), Archive: "run.cpio",
		Binds: []Bind{{Host: "/home/u/src/mod", Guest: "/home/u/src/mod"}, {Host: "/usr/lib/x86_64-linux-gnu", Guest: "/lib/x86_64-linux-gnu"}}}
}

func TestWorkRoundTrip(t *testing.T) {
	line := testWork().Line()
	assert.True(t, bytes.HasSuffix(line, []byte("\n")))
	assert.Less(t, len(line), MaxWorkLine)
	got, err := ParseWork(line)
	require.NoError(t, err)
	want := testWork()
	want.Version = StandbyVersion
	assert.Equal(t, want, got)
}

func TestParseWorkRefuses(t *testing.T) {
	for name, mutate := range map[string]func(*Work){
		"time":        func(w *Work) { w.TimeNS = 5 },
		"entropy":     func(w *Work) { w.Entropy = w.Entropy[:8] },
		"path":        func(w *Work) { w.Archive = "../etc/passwd" },
		"dot":         func(w *Work) { w.Archive = ".." },
		"empty":       func(w *Work) { w.Archive = "" },
		"nul":         func(w *Work) { w.Archive = "a\x00b" },
		"long a name": func(w *Work) { w.Archive = strings.Repeat("a", 300) },
		"bind dots":   func(w *Work) { w.Binds = []Bind{{Host: "/a/../etc", Guest: "/x"}} },
		"bind rel":    func(w *Work) { w.Binds = []Bind{{Host: "/a", Guest: "x"}} },
		"bind root":   func(w *Work) { w.Binds = []Bind{{Host: "/", Guest: "/"}} },
		"many binds":  func(w *Work) { w.Binds = make([]Bind, MaxBinds+1) },
	} {
		w := testWork()
		mutate(&w)
		_, err := ParseWork(w.Line())
		assert.Error(t, err, name)
	}
	for name, line := range map[string]string{
		"version":  `{"version":2,"time_ns":1800000000000000000,"entropy":"","archive":"a"}`,
		"unknown":  strings.Replace(string(testWork().Line()), `{"version":1`, `{"version":1,"x":1`, 1),
		"two":      string(testWork().Line()) + string(testWork().Line()),
		"too long": strings.Repeat(" ", MaxWorkLine+1),
		"garbage":  "hello",
		// JSON cannot carry it: written again it would name another path.
		"not utf-8": notUTF8Work(),
		// Within the bound as read, past it as written again.
		"rewritten long": rewrittenLongWork(),
	} {
		_, err := ParseWork([]byte(line))
		assert.Error(t, err, name)
	}
}

func notUTF8Work() string {
	return strings.Replace(string(testWork().Line()), `/home/u/src/mod"`, "/home/u/src/mod\xff\"", 1)
}

func rewrittenLongWork() string {
	return strings.Replace(string(testWork().Line()), `/home/u/src/mod"`, "/home/u/src/mod/"+strings.Repeat("\u2028", 700)+`"`, 1)
}

func TestParseStandby(t *testing.T) {
	said, ok := ParseStandby("[  3.1] x" + StandbyLine(StandbyReady))
	assert.True(t, ok)
	assert.Equal(t, StandbyReady, said)
	_, ok = ParseStandby("ready\n")
	assert.False(t, ok)
}

// FuzzParseWork: any line parses strictly or is refused, never a panic;
// what parses names a plain file and carries the entropy it must, and
// writing it again gives what was read.
func FuzzParseWork(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		w, err := ParseWork(line)
		if err != nil {
			return
		}
		require.Len(t, w.Entropy, WorkEntropy)
		require.NotContains(t, w.Archive, "/")
		again, err := ParseWork(w.Line())
		require.NoError(t, err)
		require.Equal(t, w, again)
	})
}

func TestStandbyFuzzSeeds(t *testing.T) {
	seeds := map[string][]byte{
		"work":    testWork().Line(),
		"escape":  []byte(`{"version":1,"time_ns":1800000000000000000,"entropy":"` + strings.Repeat("A", 86) + `==","archive":"../x"}`),
		"garbage": []byte("{\"version\":1,"),
		// Found by the fuzzer: a bind path with bytes that are not UTF-8.
		"not-utf8":       []byte(notUTF8Work()),
		"rewritten-long": []byte(rewrittenLongWork()),
	}
	fuzzseed.Check(t, "FuzzParseWork", seeds, *updateSeeds)
	fuzzseed.NoOthers(t, "FuzzParseWork", seeds)
}
