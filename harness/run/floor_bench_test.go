package run

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/vm"
	"github.com/ksystest/ksystest/internal/vmtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The boot floor of a real guest: the trivial init powers it off, and
// the time is QEMU's start to its exit.
func TestVMFloor(t *testing.T) {
	o := vmOptions(t, "", "", "arm64")
	took, err := Floor(context.Background(), o, o.Targets[1]) // arm64-6.1
	require.NoError(t, err)
	assert.Greater(t, took, 200*time.Millisecond)
	assert.Less(t, took, time.Minute)
	t.Logf("arm64-6.1 floor: %.2fs", took.Seconds())
}

// execTrue runs exectest true on t's guest and returns its timings.
func execTrue(b testing.TB, o Options, t matrix.Target) ExecTimings {
	b.Helper()
	a, err := arch.Lookup(t.Arch)
	require.NoError(b, err)
	prog := vmtest.GoBuild(b, "../../internal/cmd/exectest", a.Go)
	var stderr bytes.Buffer
	res, err := Exec(context.Background(), ExecOptions{
		Options: o, Target: t, Program: prog, Args: []string{prog, "true"},
		Streams: vm.ExecStreams{Stdout: io.Discard, Stderr: &stderr},
	})
	require.NoError(b, err)
	require.Equal(b, vm.ExecExited, res.Outcome, "%s: %s\n%s", t.Name, res.Reason, res.Tail)
	require.Equal(b, 0, res.Exit.Code, stderr.String())
	return res.Timings
}

// BenchmarkExecFloor measures, per default target, the boot floor (QEMU
// start to exit with an init that only powers off) and ksystest exec of
// a program that exits at once (no directory copied) side by side:
// medians of 3 each, run alternately, one guest at a time.
//
//	go test -run '^$' -bench ExecFloor -benchtime 1x ./harness/run
//	go test -run '^$' -bench 'ExecFloor/arm64-6.1' -benchtime 1x ./harness/run
//
// Metrics: s-floor; s-exec-first-insn (Exec's call to the program's
// start: prepare plus boot); s-exec-boot (QEMU start to the program's
// start, the part comparable with the floor); s-exec-prepare (kernel from
// the cache, initramfs); s-exec-uptime (the guest kernel's own uptime at
// the program's start); s-exec-total (to QEMU's exit).
func BenchmarkExecFloor(b *testing.B) {
	o := vmOptions(b, "", "")
	o.Logf = nil
	const rounds = 3
	for _, t := range o.Targets {
		b.Run(t.Name, func(b *testing.B) {
			var floors, first, boot, prepare, uptime, total []time.Duration
			for range b.N {
				for range rounds {
					f, err := Floor(context.Background(), o, t)
					require.NoError(b, err)
					floors = append(floors, f)
					tm := execTrue(b, o, t)
					first, boot, prepare = append(first, tm.FirstInstruction), append(boot, tm.Boot), append(prepare, tm.Prepare)
					uptime, total = append(uptime, tm.GuestUptime), append(total, tm.Total)
				}
			}
			for _, m := range []struct {
				name string
				d    []time.Duration
			}{{"s-floor", floors}, {"s-exec-first-insn", first}, {"s-exec-boot", boot}, {"s-exec-prepare", prepare},
				{"s-exec-uptime", uptime}, {"s-exec-total", total}} {
				b.ReportMetric(medianDur(m.d).Seconds(), m.name)
			}
			b.Logf("%s: floor %s, exec to first instruction %s (prepare %s, QEMU start to execve %s, guest uptime %s), exec total %s",
				t.Name, secsOf(floors), secsOf(first), secsOf(prepare), secsOf(boot), secsOf(uptime), secsOf(total))
		})
	}
}

func medianDur(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// secsOf renders the median and the runs: "2.31s (2.28 2.31 2.52)".
func secsOf(d []time.Duration) string {
	var all []string
	for _, x := range d {
		all = append(all, fmt.Sprintf("%.2f", x.Seconds()))
	}
	return fmt.Sprintf("%.2fs (%s)", medianDur(d).Seconds(), strings.Join(all, " "))
}
