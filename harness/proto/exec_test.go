package proto

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/internal/fuzzseed"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range []Frame{
		{Seq: 1, Kind: FrameStart, Data: []byte(`{"kernel":"6.1.0-50-arm64","uptime_ns":1}`)},
		{Seq: 2, Kind: FrameStdout, Data: []byte("hello\n\x00\xff binary too")},
		{Seq: 3, Kind: FrameBeat},
		{Seq: 18446744073709551615, Kind: FrameStderr, Data: bytes.Repeat([]byte{'x'}, MaxFrameData)},
	} {
		line := EncodeFrame(f)
		assert.Equal(t, byte('\n'), line[len(line)-1])
		assert.True(t, bytes.HasPrefix(line, []byte(ExecMarker)))
		// The kernel can print in front of a frame; the host sees CR LF.
		got, err := ParseFrame(append([]byte("[    2.1] random kernel text"), bytes.Replace(line, []byte("\n"), []byte("\r\n"), 1)...))
		require.NoError(t, err)
		assert.Equal(t, f, got)
	}
	assert.Panics(t, func() { EncodeFrame(Frame{Kind: FrameStdout, Data: make([]byte, MaxFrameData+1)}) })
}

func TestParseFrameRejects(t *testing.T) {
	_, err := ParseFrame([]byte("Booting Linux on physical CPU 0x0"))
	assert.ErrorIs(t, err, ErrNotFrame)
	_, err = ParseFrame([]byte(Marker + `{"v":2,"type":"done"}`))
	assert.ErrorIs(t, err, ErrNotFrame, "the agent's events are not frames")

	good := string(EncodeFrame(Frame{Seq: 7, Kind: FrameStdout, Data: []byte("hello")}))
	good = strings.TrimSuffix(good, "\n")
	fields := strings.Fields(strings.TrimPrefix(good, ExecMarker))
	with := func(i int, v string) string {
		f := append([]string(nil), fields...)
		f[i] = v
		return ExecMarker + strings.Join(f, " ")
	}
	for line, want := range map[string]string{
		with(0, "2"):                       "version",
		with(0, "01"):                      "version",
		with(1, "-7"):                      "seq",
		with(1, "8"):                       "CRC",
		with(2, "stdout"):                  "unknown kind",
		with(3, "123"):                     "8 hex digits",
		with(4, "aGVsbG8"):                 "not base64",
		with(4, "aGVsbG9v"):                "CRC",
		with(4, ""):                        "not base64",
		good[:len(good)-3]:                 "not base64",
		good + " extra":                    "6 fields",
		ExecMarker + "1 7 out":             "3 fields",
		good[:40] + "[ 3.0] kernel" + good: "fields",
		ExecMarker + strings.Repeat("A", maxFrameLine+1): "at most",
	} {
		_, err := ParseFrame([]byte(line))
		assert.ErrorContains(t, err, want, line)
		assert.NotErrorIs(t, err, ErrNotFrame, line)
	}
}

// FuzzParseFrame: whatever a guest prints, parsing never panics, and a
// line that parses holds one bounded frame that encodes back to a line
// parsing the same.
func FuzzParseFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		fr, err := ParseFrame(line)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(fr.Data), MaxFrameData)
		again, err := ParseFrame(EncodeFrame(fr))
		require.NoError(t, err)
		assert.Equal(t, fr, again)
	})
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// frameSeed is a hand-made seed of FuzzParseFrame and what ParseFrame
// makes of it: a frame, or an error saying this.
type frameSeed struct {
	line []byte
	want Frame
	err  string
}

// frameSeeds are FuzzParseFrame's hand-made seeds, committed in this
// order as testdata/fuzz/FuzzParseFrame/seed-NN.
func frameSeeds() []frameSeed {
	start := Frame{Seq: 1, Kind: FrameStart, Data: []byte(`{"kernel":"6.12.95+deb12-s390x","machine":"s390x","uptime_ns":2710000000}`)}
	out := Frame{Seq: 2, Kind: FrameStdout, Data: []byte("PASS\n")}
	exit := Frame{Seq: 4, Kind: FrameExit, Data: []byte(`{"code":-1,"signal":9,"uptime_ns":3}`)}
	good := EncodeFrame(out)
	return []frameSeed{
		{line: EncodeFrame(start), want: start},
		{line: good, want: out},
		{line: EncodeFrame(Frame{Seq: 3, Kind: FrameBeat}), want: Frame{Seq: 3, Kind: FrameBeat}},
		{line: EncodeFrame(exit), want: exit},
		// The kernel's message and the frame on one console line.
		{line: append([]byte("[    3.1] Kernel panic - not syncing: "), good...), want: out},
		{line: good[:len(good)/2], err: "3 fields, want 5"},
		// Another stream's frame with stdout's CRC.
		{line: bytes.Replace(good, []byte(" out "), []byte(" err "), 1), err: "exec frame 2: CRC 283fe79d, the payload's is d4045120"},
		{line: []byte(ExecMarker + "1 1 fail 00000000 -"), err: "exec frame 1: CRC 00000000, the payload's is b41c92e9"},
	}
}

// TestFuzzSeeds reads FuzzParseFrame's committed seeds back and wants
// each to be what frameSeeds says, and to parse as it says; run it with
// -update-seeds to write them.
func TestFuzzSeeds(t *testing.T) {
	seeds := frameSeeds()
	if *updateSeeds {
		var lines [][]byte
		for _, s := range seeds {
			lines = append(lines, s.line)
		}
		fuzzseed.Numbered(t, "FuzzParseFrame", lines)
	}
	committed := fuzzseed.ReadNumbered(t, "FuzzParseFrame")
	require.Len(t, committed, len(seeds), "run with -update-seeds to write them")
	for i, s := range seeds {
		assert.Equal(t, string(s.line), string(committed[i]), "seed-%02d", i)
		fr, err := ParseFrame(committed[i])
		if s.err != "" {
			assert.ErrorContains(t, err, s.err, "seed-%02d", i)
			continue
		}
		require.NoError(t, err, "seed-%02d", i)
		assert.Equal(t, s.want, fr, "seed-%02d", i)
	}
}
