package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/internal/fuzzseed"
)

// frames numbers frames from 1 and renders them as console lines.
type frames struct{ seq uint64 }

func (f *frames) line(kind proto.FrameKind, data string) string {
	f.seq++
	return strings.TrimSuffix(string(proto.EncodeFrame(proto.Frame{Seq: f.seq, Kind: kind, Data: []byte(data)})), "\n")
}

func (f *frames) start() string {
	return f.line(proto.FrameStart, `{"kernel":"6.1.0-50-arm64","machine":"aarch64","uptime_ns":1700000000}`)
}

func (f *frames) exit(code int) string {
	return f.line(proto.FrameExit, fmt.Sprintf(`{"code":%d,"uptime_ns":1900000000}`, code))
}

var testExecDeadlines = ExecDeadlines{
	Boot: 2 * time.Second, Silence: 2 * time.Second, Run: 2 * time.Second, Exit: time.Second, Drain: 50 * time.Millisecond,
}

type execRun struct {
	w              *ExecWatch
	stdout, stderr bytes.Buffer
	console        bytes.Buffer
	took           time.Duration
	stopped        bool
}

func watch(t *testing.T, ctx context.Context, dl ExecDeadlines, script FakeScript) *execRun {
	t.Helper()
	fake := &Fake{Script: func(Spec) FakeScript { return script }}
	inst, err := fake.Start(ctx, Spec{})
	require.NoError(t, err)
	r := &execRun{}
	start := time.Now()
	r.w = WatchExec(ctx, inst, start, dl, ExecStreams{Stdout: &r.stdout, Stderr: &r.stderr, Console: &r.console})
	r.took = time.Since(start)
	r.stopped = inst.(*fakeInstance).Stopped
	return r
}

func script(texts ...string) FakeScript {
	var s FakeScript
	for _, t := range texts {
		s.Lines = append(s.Lines, FakeLine{Text: t})
	}
	return s
}

func TestWatchExecRelaysOutputAndStatus(t *testing.T) {
	var f frames
	r := watch(t, context.Background(), testExecDeadlines, script(
		"Linux version 6.1.0-50-arm64",
		f.start(),
		f.line(proto.FrameStdout, "to stdout\n"),
		f.line(proto.FrameStderr, "to stderr\n"),
		f.line(proto.FrameBeat, ""),
		"[    2.0] a kernel line between frames",
		f.line(proto.FrameStdout, "more\n"),
		f.exit(3),
		"reboot: Power down",
	))
	w := r.w
	assert.Equal(t, ExecExited, w.Outcome, w.Reason)
	assert.Equal(t, 3, w.Exit.Code)
	assert.Equal(t, "to stdout\nmore\n", r.stdout.String())
	assert.Equal(t, "to stderr\n", r.stderr.String())
	assert.Equal(t, int64(15), w.OutBytes)
	assert.Equal(t, "6.1.0-50-arm64", w.Start.Kernel)
	assert.NotZero(t, w.Started)
	assert.GreaterOrEqual(t, w.Exited, w.Started)
	assert.GreaterOrEqual(t, w.Gone, w.Exited)
	assert.Equal(t, "Linux version 6.1.0-50-arm64\n[    2.0] a kernel line between frames\nreboot: Power down\n", r.console.String(), "frames are not console")
	assert.Equal(t, []string{"Linux version 6.1.0-50-arm64", "[    2.0] a kernel line between frames", "reboot: Power down"}, w.Tail)
	assert.False(t, r.stopped, "the guest powered off by itself")
}

func TestWatchExecOutcomes(t *testing.T) {
	short := testExecDeadlines
	short.Silence, short.Run, short.Boot = 500*time.Millisecond, time.Second, 400*time.Millisecond
	beats := func(f *frames, n int) []FakeLine {
		var out []FakeLine
		for range n {
			out = append(out, FakeLine{Delay: 50 * time.Millisecond, Text: f.line(proto.FrameBeat, "")})
		}
		return out
	}
	for name, tc := range map[string]struct {
		script  func(f *frames) FakeScript
		outcome ExecOutcome
		reason  string
		stopped bool
	}{
		"kernel panic": {
			script: func(f *frames) FakeScript {
				return script(f.start(), f.line(proto.FrameStdout, "bye"), "[    3.1] sysrq: Trigger a crash",
					"[    3.1] Kernel panic - not syncing: sysrq triggered crash", "[    3.2] ---[ end Kernel panic ]---")
			},
			outcome: ExecCrash, reason: "kernel: [    3.1] Kernel panic - not syncing: sysrq triggered crash",
		},
		"panic that does not end the guest": {
			script: func(f *frames) FakeScript {
				s := script(f.start(), "Kernel panic - not syncing: x")
				s.Hang = true
				return s
			},
			outcome: ExecCrash, reason: "kernel: Kernel panic", stopped: true,
		},
		"program runs too long": {
			script: func(f *frames) FakeScript {
				s := FakeScript{Lines: append([]FakeLine{{Text: f.start()}}, beats(f, 40)...), Hang: true}
				return s
			},
			outcome: ExecTimeout, reason: "the program was still running 1s after it started", stopped: true,
		},
		"guest goes silent": {
			script: func(f *frames) FakeScript {
				return FakeScript{Lines: []FakeLine{{Text: f.start()}}, Hang: true}
			},
			outcome: ExecTimeout, reason: "the guest was silent for 500ms while the program ran (VM state: running)", stopped: true,
		},
		"never starts": {
			script:  func(*frames) FakeScript { return FakeScript{Lines: []FakeLine{{Text: "Booting"}}, Hang: true} },
			outcome: ExecTimeout, reason: "the program did not start within 400ms of QEMU start", stopped: true,
		},
		"guest ends before the exit status": {
			script:  func(f *frames) FakeScript { return script(f.start(), f.line(proto.FrameStdout, "x")) },
			outcome: ExecCrash, reason: "the guest ended before the program's exit status came",
		},
		"guest ends before the start": {
			script:  func(*frames) FakeScript { return script("Booting") },
			outcome: ExecCrash, reason: "the guest ended before the program started",
		},
		"cannot run": {
			script: func(f *frames) FakeScript {
				return script(f.start(), f.line(proto.FrameFail, "exec /prog: exec format error"), "reboot: Power down")
			},
			outcome: ExecNotRun, reason: "the guest could not run the program: exec /prog: exec format error",
		},
		"frame cut by a kernel message": {
			script: func(f *frames) FakeScript {
				start := f.start()
				out := f.line(proto.FrameStdout, "some output")
				s := script(start, out[:30]+"[ 2.0] random: crng init done"+out[30:])
				s.Hang = true
				return s
			},
			outcome: ExecChannelError, reason: "garbled frame from the guest", stopped: true,
		},
		"frame lost": {
			script: func(f *frames) FakeScript {
				start := f.start()
				f.line(proto.FrameStdout, "lost")
				s := script(start, f.line(proto.FrameStdout, "after"))
				s.Hang = true
				return s
			},
			outcome: ExecChannelError, reason: "frame 3 from the guest where 2 was due: frames were lost", stopped: true,
		},
		"output before the start": {
			script: func(f *frames) FakeScript {
				s := script(f.line(proto.FrameStdout, "early"))
				s.Hang = true
				return s
			},
			outcome: ExecChannelError, reason: `frame 1 from the guest is "out", out of order`, stopped: true,
		},
		"impossible exit status": {
			script:  func(f *frames) FakeScript { return script(f.start(), f.line(proto.FrameExit, `{"code":300}`)) },
			outcome: ExecChannelError, reason: "exit frame: status 300, signal 0", stopped: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := watch(t, context.Background(), short, tc.script(&frames{}))
			assert.Equal(t, tc.outcome, r.w.Outcome, r.w.Reason)
			assert.Contains(t, r.w.Reason, tc.reason)
			assert.Equal(t, tc.stopped, r.stopped, "stopped by the host")
			assert.Less(t, r.took, 3*time.Second)
		})
	}
}

func TestWatchExecInterrupted(t *testing.T) {
	var f frames
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(fmt.Errorf("interrupt")) })
	s := script(f.start())
	s.Hang = true
	r := watch(t, ctx, testExecDeadlines, s)
	assert.Equal(t, ExecInterrupted, r.w.Outcome)
	assert.Equal(t, "interrupt", r.w.Reason)
	assert.True(t, r.stopped)
}

// A console line longer than the host keeps is cut in the evidence, not
// fatal: the frames after it still count.
func TestExecLongLinesCut(t *testing.T) {
	var f frames
	console := strings.Join([]string{strings.Repeat("x", 3<<20) + "\r", f.start(), f.exit(0)}, "\n")
	w, _, _ := readConsole([]byte(console))
	assert.Equal(t, ExecExited, w.Outcome, w.Reason)
	require.NotEmpty(t, w.Tail)
	for _, l := range w.Tail {
		assert.LessOrEqual(t, len(l), maxConsoleLine)
	}
}

// FuzzExecReader: whatever a guest prints, the host never panics, writes
// no more than the console carried, and ends in one outcome.
func FuzzExecReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, console []byte) {
		w, out, errs := readConsole(console)
		require.NotEmpty(t, w.Outcome)
		require.LessOrEqual(t, out.Len()+errs.Len(), len(console))
		require.Equal(t, int64(out.Len()), w.OutBytes)
		require.LessOrEqual(t, len(w.Tail), TailLines)
		if w.Outcome == ExecExited {
			require.NotZero(t, w.Started+w.Exited+1)
		}
	})
}

// readConsole reads a guest's console as an exec does, from a guest that
// prints it and ends.
func readConsole(console []byte) (w *ExecWatch, stdout, stderr *bytes.Buffer) {
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	dl := ExecDeadlines{Boot: time.Hour, Silence: time.Hour, Run: time.Hour, Exit: time.Hour, Drain: time.Hour}
	w = WatchExec(context.Background(), newReplay(console), time.Now(), dl, ExecStreams{Stdout: stdout, Stderr: stderr})
	return w, stdout, stderr
}

// execSeed is a hand-made seed of FuzzExecReader and what the exec
// reader makes of it.
type execSeed struct {
	console        string
	outcome        ExecOutcome
	reason         string
	exit           proto.ExecExit
	stdout, stderr string
}

// execSeeds are FuzzExecReader's hand-made seeds, committed in this order
// as testdata/fuzz/FuzzExecReader/seed-NN.
func execSeeds() []execSeed {
	var ok, crash, lost frames
	return []execSeed{{
		console: strings.Join([]string{"Linux version 6.1", ok.start(), ok.line(proto.FrameStdout, "PASS\n"),
			ok.line(proto.FrameStderr, "warn\n"), ok.line(proto.FrameBeat, ""), ok.exit(0), "reboot: Power down"}, "\n"),
		outcome: ExecExited, exit: proto.ExecExit{UptimeNS: 1900000000}, stdout: "PASS\n", stderr: "warn\n",
	}, {
		console: strings.Join([]string{crash.start(), "Kernel panic - not syncing: sysrq triggered crash"}, "\n"),
		outcome: ExecCrash, reason: "kernel: Kernel panic - not syncing: sysrq triggered crash",
	}, {
		console: strings.Join([]string{lost.start(), lost.line(proto.FrameStdout, "a") + "junk", lost.exit(1)}, "\n"),
		outcome: ExecChannelError, reason: "garbled frame from the guest: exec frame 2: payload is not base64",
	}, {
		console: (&frames{}).line(proto.FrameFail, "exec /x: exec format error"),
		outcome: ExecNotRun, reason: "the guest could not run the program: exec /x: exec format error",
	}, {
		console: strings.Join([]string{(&frames{}).start(), (&frames{seq: 1}).line(proto.FrameExit, `{"code":-1,"signal":9,"uptime_ns":5}`)}, "\n"),
		outcome: ExecExited, exit: proto.ExecExit{Code: -1, Signal: 9, UptimeNS: 5},
	}}
}

// TestExecFuzzSeeds reads FuzzExecReader's committed seeds back and wants
// each to be what execSeeds says, and to end as it says; run it with
// -update to write them.
func TestExecFuzzSeeds(t *testing.T) {
	seeds := execSeeds()
	if *update {
		var consoles []string
		for _, s := range seeds {
			consoles = append(consoles, s.console)
		}
		fuzzseed.Numbered(t, "FuzzExecReader", consoles)
	}
	committed := fuzzseed.ReadNumbered(t, "FuzzExecReader")
	require.Len(t, committed, len(seeds), "run with -update to write them")
	for i, s := range seeds {
		assert.Equal(t, s.console, string(committed[i]), "seed-%02d", i)
		w, stdout, stderr := readConsole(committed[i])
		assert.Equal(t, s.outcome, w.Outcome, "seed-%02d", i)
		assert.Equal(t, s.reason, w.Reason, "seed-%02d", i)
		assert.Equal(t, s.exit, w.Exit, "seed-%02d", i)
		assert.Equal(t, s.stdout, stdout.String(), "seed-%02d", i)
		assert.Equal(t, s.stderr, stderr.String(), "seed-%02d", i)
	}
}

// A QEMU that something on the host ended (kill -9, the OOM killer) is
// no crash of the kernel: the exec is interrupted, and says by what. An
// exit status that came before it stands.
func TestWatchExecVMEndedFromOutside(t *testing.T) {
	killed := errors.New("QEMU was killed by signal 9 (killed), not by ksystest")
	var f frames
	s := script(f.start(), f.line(proto.FrameStdout, "half"))
	s.Exit = killed
	r := watch(t, context.Background(), testExecDeadlines, s)
	assert.Equal(t, ExecInterrupted, r.w.Outcome)
	assert.Equal(t, killed.Error(), r.w.Reason)

	f = frames{}
	s = script(f.start(), f.exit(0))
	s.Exit = killed
	r = watch(t, context.Background(), testExecDeadlines, s)
	assert.Equal(t, ExecExited, r.w.Outcome)
}
