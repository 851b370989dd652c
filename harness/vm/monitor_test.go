package vm

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
		"[    0.0] Booting Linux on physical CPU 0x0000000000 [0x411fd070]":         false,
		`@@ksystest@@ {"v":2,"seq":6,"type":"done"}`:                                false,
		"[    0.5] OOPS_ENABLED=1 is not a crash":                                   false,
	} {
		assert.Equal(t, want, IsCrashLine(line), line)
	}
}

// A guest still running after done is stopped at the exit deadline and
// still counts as completed.
func TestMonitorStopsGuestThatDoesNotPowerOff(t *testing.T) {
	fake := &Fake{Script: func(Spec) FakeScript {
		return FakeScript{Lines: []FakeLine{{Text: `@@ksystest@@ {"v":2,"seq":1,"type":"hello"}`},
			{Text: `@@ksystest@@ {"v":2,"seq":2,"type":"done"}`}}, Hang: true}
	}}
	inst, err := fake.Start(context.Background(), Spec{})
	require.NoError(t, err)
	w := Monitor(context.Background(), inst, time.Now(), Deadlines{Boot: time.Second, Progress: time.Second, Exit: 50 * time.Millisecond, Drain: time.Second}, io.Discard, nil)
	assert.Equal(t, result.Outcome(""), w.Outcome)
	assert.NotZero(t, w.Done)
	assert.True(t, inst.(*fakeInstance).Stopped)
}
