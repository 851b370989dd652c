package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ksystest/ksystest/harness/result"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// replay is an Instance that prints a recorded console and exits.
type replay struct {
	console io.Reader
	done    chan struct{}
	once    sync.Once
}

func newReplay(log []byte) *replay {
	r := &replay{console: bytes.NewReader(log), done: make(chan struct{})}
	return r
}

func (r *replay) Console() io.Reader {
	// Done closes once the console has been read to its end, as QEMU's
	// stdout ends when it exits.
	return readerFunc(func(p []byte) (int, error) {
		n, err := r.console.Read(p)
		if err == io.EOF {
			r.once.Do(func() { close(r.done) })
		}
		return n, err
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (r *replay) Done() <-chan struct{}   { return r.done }
func (r *replay) Stop(time.Duration)      { r.once.Do(func() { close(r.done) }) }
func (r *replay) Status() (string, error) { return "running", nil }
func (r *replay) ExitError() error        { return nil }

// Recorded consoles of real guests (testdata/console, captured with
// `ksystest run` and --kernel-append rdinit=/no-such-init for the panics)
// classify as the golden files say.
func TestConsoleGolden(t *testing.T) {
	logs, err := filepath.Glob("testdata/console/*.log")
	require.NoError(t, err)
	require.NotEmpty(t, logs)
	for _, logPath := range logs {
		name := strings.TrimSuffix(filepath.Base(logPath), ".log")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(logPath)
			require.NoError(t, err)
			dl := Deadlines{Boot: time.Minute, Progress: time.Minute, Exit: time.Minute, Drain: time.Minute}
			w := Monitor(context.Background(), newReplay(data), time.Now(), dl, io.Discard, nil)
			var got strings.Builder
			outcome := w.Outcome
			if outcome == "" {
				outcome = "completed (done received)"
			}
			fmt.Fprintf(&got, "outcome: %s\nreason: %s\nevents: %d\nagent started: %v\ndone: %v\ntail (last 3 of %d):\n",
				outcome, w.Reason, len(w.Events), w.AgentStart > 0, w.Done > 0, len(w.Tail))
			for _, l := range w.Tail[max(0, len(w.Tail)-3):] {
				fmt.Fprintf(&got, "  %s\n", l)
			}
			golden := filepath.Join("testdata/console", name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got.String()), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run with -update to create")
			assert.Equal(t, string(want), got.String())
		})
	}
}

func TestIsCrashLine(t *testing.T) {
	for line, want := range map[string]bool{
		"[    1.6] Kernel panic - not syncing: VFS: Unable to mount root fs":        true,
		"[    2.0] BUG: kernel NULL pointer dereference, address: 0000000000000008": true,
		"[    2.0] Oops: 0002 [#1] PREEMPT SMP NOPTI":                               true,
		"[    2.0] Internal error: Oops: 96000005 [#1] SMP":                         true,
		"[    2.0] Unable to handle kernel paging request at virtual address 0":     true,
		"[    2.0] general protection fault, probably for non-canonical address":    true,
		"[    2.0] kernel BUG at mm/slub.c:123!":                                    true,
		"[    2.0] Kernel panic - Attempted to kill init! exitcode=0x00000100":      true,
		"[    2.0] Attempted to kill init! exitcode=0x00000100":                     true,
		// A crash cut into the end of a long line (an agent's event) counts.
		strings.Repeat("x", 1<<20) + "[    2.0] Oops: 0002 [#1] SMP":        true,
		"[    0.0] Booting Linux on physical CPU 0x0000000000 [0x411fd070]": false,
		`@@ksystest@@ {"v":2,"seq":6,"type":"done"}`:                        false,
		"[    0.5] OOPS_ENABLED=1 is not a crash":                           false,
	} {
		assert.Equal(t, want, IsCrashLine(line), line)
	}
}

// A guest still running after done is stopped at the exit deadline and
// still counts as completed.
func TestMonitorStopsGuestThatDoesNotPowerOff(t *testing.T) {
	fake := &Fake{Script: func(Spec) FakeScript {
		return FakeScript{Lines: []FakeLine{{Text: `@@ksystest@@ {"v":2,"seq":1,"type":"hello","hello":{"kernel":"6.1","machine":"x86_64","goarch":"amd64","uptime_sec":1}}`},
			{Text: `@@ksystest@@ {"v":2,"seq":2,"type":"done"}`}}, Hang: true}
	}}
	inst, err := fake.Start(context.Background(), Spec{})
	require.NoError(t, err)
	w := Monitor(context.Background(), inst, time.Now(), Deadlines{Boot: time.Second, Progress: time.Second, Exit: 50 * time.Millisecond, Drain: time.Second}, io.Discard, nil)
	assert.Equal(t, result.Outcome(""), w.Outcome)
	assert.NotZero(t, w.Done)
	assert.True(t, inst.(*fakeInstance).Stopped)
}

const (
	helloLine = `@@ksystest@@ {"v":2,"seq":1,"type":"hello","hello":{"kernel":"6.1","machine":"x86_64","goarch":"amd64","uptime_sec":1}}`
	doneLine  = `@@ksystest@@ {"v":2,"seq":3,"type":"done"}`
	caseLine  = `@@ksystest@@ {"v":2,"seq":2,"type":"case","case":{"name":"write","passed":[1],"captures":[[1]],"ret":0,"errno":0,"nr":1}}`
)

func fakeLines(texts ...string) []FakeLine {
	var out []FakeLine
	for _, t := range texts {
		out = append(out, FakeLine{Text: t})
	}
	return out
}

var quick = Deadlines{Boot: 5 * time.Second, Progress: 5 * time.Second, Exit: 5 * time.Second, Drain: 50 * time.Millisecond}

func watchFake(t *testing.T, script FakeScript, log io.Writer) *Watch {
	t.Helper()
	inst, err := (&Fake{Script: func(Spec) FakeScript { return script }}).Start(context.Background(), Spec{})
	require.NoError(t, err)
	return monitorWithin(t, inst, log)
}

// monitorWithin is Monitor, failing the test if it does not return within
// ten seconds: a monitor that waits for ever is the bug.
func monitorWithin(t *testing.T, inst Instance, log io.Writer) *Watch {
	t.Helper()
	got := make(chan *Watch, 1)
	go func() { got <- Monitor(context.Background(), inst, time.Now(), quick, log, nil) }()
	select {
	case w := <-got:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor did not return")
		return nil
	}
}

// A VM that something else ended (QEMU killed by a signal ksystest did not
// send, or failing on its own) is the host's fault: infra-error, never a
// crash, whatever the agent had sent. A kernel that said it was dying, or
// an agent that was done, keeps its verdict.
func TestMonitorVMEndedFromOutside(t *testing.T) {
	killed := errors.New("QEMU was killed by signal 9 (killed), not by ksystest")
	for name, tc := range map[string]struct {
		lines   []string
		outcome result.Outcome
		reason  string
	}{
		"before the agent":   {lines: []string{"Booting Linux"}, outcome: result.OutcomeInfraError, reason: killed.Error()},
		"mid-run":            {lines: []string{helloLine, caseLine}, outcome: result.OutcomeInfraError, reason: killed.Error()},
		"after done":         {lines: []string{helloLine, caseLine, doneLine}},
		"after a crash line": {lines: []string{helloLine, "[    3.1] Kernel panic - not syncing: Fatal exception"}, outcome: result.OutcomeCrash, reason: "kernel: [    3.1] Kernel panic"},
	} {
		t.Run(name, func(t *testing.T) {
			w := watchFake(t, FakeScript{Lines: fakeLines(tc.lines...), Exit: killed}, io.Discard)
			assert.Equal(t, tc.outcome, w.Outcome)
			assert.Contains(t, w.Reason, tc.reason)
		})
	}
	w := watchFake(t, FakeScript{Lines: fakeLines(helloLine, caseLine)}, io.Discard)
	assert.Equal(t, result.OutcomeCrash, w.Outcome, "a guest that ends by itself without done is still a crash")
}

// An agent that stops because the kernel lacks what ksystest needs says
// so once: the target names a kernel ksystest cannot test (config-error),
// while any other error of the agent's is ksystest's own (infra-error).
func TestMonitorAgentErrors(t *testing.T) {
	unsupported := `@@ksystest@@ {"v":2,"seq":2,"type":"error","error":"unsupported kernel: 4.15.0-213-generic lacks global data"}`
	w := watchFake(t, FakeScript{Lines: fakeLines(helloLine, unsupported)}, io.Discard)
	assert.Equal(t, result.OutcomeConfigError, w.Outcome)
	assert.Equal(t, "unsupported kernel: 4.15.0-213-generic lacks global data", w.Reason)

	failed := `@@ksystest@@ {"v":2,"seq":2,"type":"error","error":"read catalogue: no such file"}`
	w = watchFake(t, FakeScript{Lines: fakeLines(helloLine, failed)}, io.Discard)
	assert.Equal(t, result.OutcomeInfraError, w.Outcome)
	assert.Equal(t, "the agent failed: read catalogue: no such file", w.Reason)
}

// A crash line after done is still the kernel dying: the verdicts of a
// kernel that oopses on its way out are not trusted.
func TestMonitorCrashAfterDone(t *testing.T) {
	w := watchFake(t, FakeScript{Lines: fakeLines(helloLine, caseLine, doneLine, "[    4.0] BUG: unable to handle page fault for address: 0")}, io.Discard)
	assert.Equal(t, result.OutcomeCrash, w.Outcome)
	assert.Equal(t, "kernel: [    4.0] BUG: unable to handle page fault for address: 0", w.Reason)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// A console log the host cannot write is an infra-error: the cell would
// have no evidence.
func TestMonitorConsoleLogWriteError(t *testing.T) {
	w := watchFake(t, FakeScript{Lines: fakeLines(helloLine, caseLine, doneLine), Hang: true}, failingWriter{})
	assert.Equal(t, result.OutcomeInfraError, w.Outcome)
	assert.Equal(t, "host I/O error: write the console log: no space left on device", w.Reason)
}

// brokenConsole is a guest whose console read fails after some lines.
type brokenConsole struct{ replay }

func (b *brokenConsole) Console() io.Reader {
	return io.MultiReader(strings.NewReader(helloLine+"\n"), readerFunc(func([]byte) (int, error) {
		return 0, errors.New("read |0: input/output error")
	}))
}

func TestMonitorConsoleReadError(t *testing.T) {
	b := &brokenConsole{replay: replay{done: make(chan struct{})}}
	w := monitorWithin(t, b, io.Discard)
	assert.Equal(t, result.OutcomeInfraError, w.Outcome)
	assert.Equal(t, "host I/O error: read the guest's console: read |0: input/output error", w.Reason)
}

// A guest that never ends a line cannot stop the monitor from reading
// what follows.
func TestMonitorEndlessLine(t *testing.T) {
	long := strings.Repeat("x", 3*MaxLine+5)
	var log bytes.Buffer
	w := watchFake(t, FakeScript{Lines: fakeLines(long, helloLine, caseLine, doneLine)}, &log)
	assert.Equal(t, result.Outcome(""), w.Outcome, w.Reason)
	assert.NotZero(t, w.Done)
	assert.Len(t, w.Events, 3)
	assert.Equal(t, len(long)+4+len(helloLine+caseLine+doneLine)+3, log.Len(), "every byte logged, the long line in pieces")
}

// lineSplitter gives the lines bufio.ScanLines gives, however the input
// arrives, and a line longer than MaxLine in pieces.
func TestLineSplitter(t *testing.T) {
	scan := func(r io.Reader, split bufio.SplitFunc) []string {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 4096), 2*MaxLine)
		sc.Split(split)
		var out []string
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		require.NoError(t, sc.Err())
		return out
	}
	for _, in := range []string{"", "a", "a\n", "a\r\nb", "\n\n", "one\ntwo\r\nthree", strings.Repeat("ab\n", 5000)} {
		want := scan(strings.NewReader(in), bufio.ScanLines)
		assert.Equal(t, want, scan(strings.NewReader(in), (&lineSplitter{}).split), "%.20q", in)
		assert.Equal(t, want, scan(iotest.OneByteReader(strings.NewReader(in)), (&lineSplitter{}).split), "%.20q one byte at a time", in)
	}
	long := strings.Repeat("y", MaxLine+3) + "\nz"
	got := scan(iotest.HalfReader(strings.NewReader(long)), (&lineSplitter{}).split)
	assert.Equal(t, []string{strings.Repeat("y", MaxLine), "yyy", "z"}, got)
}

// The agent's events are numbered and each case comes once: a lost,
// repeated or reordered line, or a case reported twice, is the console's
// fault and ends the cell as an infra-error naming what happened, never a
// verdict on half the evidence.
func TestMonitorRefusesEventsOutOfOrder(t *testing.T) {
	at := func(seq int, line string) string {
		return strings.Replace(line, `"seq":`+line[strings.Index(line, `"seq":`)+6:strings.Index(line, `,"type"`)], fmt.Sprintf(`"seq":%d`, seq), 1)
	}
	for name, tc := range map[string]struct {
		lines  []string
		reason string
	}{
		"lost":      {lines: []string{at(1, helloLine), at(3, caseLine), at(4, doneLine)}, reason: "agent event 3 (case) arrived after event 1: events were lost or repeated"},
		"repeated":  {lines: []string{at(1, helloLine), at(2, caseLine), at(2, caseLine), at(3, doneLine)}, reason: "agent event 2 (case) arrived after event 2"},
		"reordered": {lines: []string{at(2, helloLine), at(1, caseLine), at(3, doneLine)}, reason: "agent event 2 (hello) arrived after event 0"},
		"same case": {lines: []string{at(1, helloLine), at(2, caseLine), at(3, caseLine), at(4, doneLine)}, reason: "the agent reported case write twice"},
	} {
		t.Run(name, func(t *testing.T) {
			w := watchFake(t, FakeScript{Lines: fakeLines(tc.lines...), AsWritten: true}, io.Discard)
			assert.Equal(t, result.OutcomeInfraError, w.Outcome)
			assert.Contains(t, w.Reason, tc.reason)
		})
	}
	w := watchFake(t, FakeScript{Lines: fakeLines(at(1, helloLine), at(2, caseLine), at(3, doneLine)), AsWritten: true}, io.Discard)
	assert.Equal(t, result.Outcome(""), w.Outcome, w.Reason)
}
