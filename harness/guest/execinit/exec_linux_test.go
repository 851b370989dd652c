package execinit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksystest/ksystest/harness/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// run runs a shell script as the init would and returns its frames.
func run(t *testing.T, script string) ([]proto.Frame, error) {
	t.Helper()
	dir := t.TempDir()
	spec, err := json.Marshal(proto.ExecSpec{
		Version: proto.ExecVersion, Path: "/bin/sh", Args: []string{"sh", "-c", script},
		Env: []string{"GREETING=hi"}, Dir: dir,
	})
	require.NoError(t, err)
	specPath := filepath.Join(dir, "exec.json")
	require.NoError(t, os.WriteFile(specPath, spec, 0o644))
	var console bytes.Buffer
	err = Run(NewWriter(&console), specPath)
	var frames []proto.Frame
	sc := bufio.NewScanner(&console)
	for sc.Scan() {
		f, perr := proto.ParseFrame(sc.Bytes())
		require.NoError(t, perr, sc.Text())
		frames = append(frames, f)
	}
	for i, f := range frames {
		require.Equal(t, uint64(i+1), f.Seq, "frames numbered without gaps")
	}
	return frames, err
}

func streams(frames []proto.Frame) (stdout, stderr string) {
	for _, f := range frames {
		switch f.Kind {
		case proto.FrameStdout:
			stdout += string(f.Data)
		case proto.FrameStderr:
			stderr += string(f.Data)
		}
	}
	return stdout, stderr
}

func exitOf(t *testing.T, frames []proto.Frame) proto.ExecExit {
	t.Helper()
	last := frames[len(frames)-1]
	require.Equal(t, proto.FrameExit, last.Kind)
	var e proto.ExecExit
	require.NoError(t, json.Unmarshal(last.Data, &e))
	return e
}

func TestRunRelaysOutputAndStatus(t *testing.T) {
	frames, err := run(t, `echo "$GREETING from $(pwd)"; echo oops >&2; head -c 10000 /dev/zero | tr '\0' x; exit 3`)
	require.NoError(t, err)
	require.Equal(t, proto.FrameStart, frames[0].Kind)
	var start proto.ExecStart
	require.NoError(t, json.Unmarshal(frames[0].Data, &start))
	assert.NotEmpty(t, start.Kernel)
	assert.NotZero(t, start.UptimeNS)

	stdout, stderr := streams(frames)
	first, rest, _ := strings.Cut(stdout, "\n")
	assert.Regexp(t, `^hi from /`, first)
	assert.Equal(t, strings.Repeat("x", 10000), rest, "more than one frame's worth")
	assert.Equal(t, "oops\n", stderr)
	e := exitOf(t, frames)
	assert.Equal(t, 3, e.Code)
	assert.GreaterOrEqual(t, e.UptimeNS, start.UptimeNS)
}

func TestRunKilledBySignal(t *testing.T) {
	frames, err := run(t, `kill -9 $$`)
	require.NoError(t, err)
	assert.Equal(t, proto.ExecExit{Code: -1, Signal: 9, UptimeNS: exitOf(t, frames).UptimeNS}, exitOf(t, frames))
}

// A process the program leaves behind holding its stdout does not keep
// the exit from the host.
func TestRunDoesNotWaitForLeftovers(t *testing.T) {
	defer func(d time.Duration) { drainFor = d }(drainFor)
	drainFor = 100 * time.Millisecond
	start := time.Now()
	frames, err := run(t, `sleep 5 & echo left`)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 3*time.Second)
	stdout, _ := streams(frames)
	assert.Equal(t, "left\n", stdout)
	assert.Equal(t, 0, exitOf(t, frames).Code)
}

func TestRunBeats(t *testing.T) {
	defer func(d time.Duration) { BeatEvery = d }(BeatEvery)
	BeatEvery = 20 * time.Millisecond
	frames, err := run(t, `sleep 0.3`)
	require.NoError(t, err)
	beats := 0
	for _, f := range frames {
		if f.Kind == proto.FrameBeat {
			beats++
		}
	}
	assert.Greater(t, beats, 3)
}

func TestRunCannotExec(t *testing.T) {
	dir := t.TempDir()
	spec, _ := json.Marshal(proto.ExecSpec{Version: proto.ExecVersion, Path: filepath.Join(dir, "missing"), Args: []string{"missing"}, Dir: dir})
	specPath := filepath.Join(dir, "exec.json")
	require.NoError(t, os.WriteFile(specPath, spec, 0o644))
	err := Run(NewWriter(&bytes.Buffer{}), specPath)
	assert.ErrorContains(t, err, "exec "+filepath.Join(dir, "missing")+": no such file or directory")

	require.NoError(t, os.WriteFile(specPath, []byte(`{"version":99}`), 0o644))
	assert.ErrorContains(t, Run(NewWriter(&bytes.Buffer{}), specPath), "exec spec version 99")
}

func TestMountsKeepTmpOfTheInitramfs(t *testing.T) {
	for _, m := range Mounts() {
		assert.NotEqual(t, "/tmp", m.Target)
	}
	assert.NotEmpty(t, Mounts())
}

func TestWriterSplitsAndNumbers(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	require.NoError(t, w.Send(proto.FrameStdout, bytes.Repeat([]byte{'a'}, 2*proto.MaxFrameData+1)))
	require.NoError(t, w.Send(proto.FrameBeat, nil))
	require.NoError(t, w.Fail(bytes.ErrTooLarge))
	var got []proto.Frame
	for _, line := range bytes.SplitAfter(buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		f, err := proto.ParseFrame(line)
		require.NoError(t, err)
		got = append(got, f)
	}
	require.Len(t, got, 5)
	assert.Len(t, got[2].Data, 1)
	assert.Equal(t, proto.FrameBeat, got[3].Kind)
	assert.Equal(t, uint64(5), got[4].Seq)
	assert.Equal(t, "bytes.Buffer: too large", string(got[4].Data))
}
