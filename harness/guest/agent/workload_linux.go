package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ksystest/ksystest/harness/guest/pid1"
	"github.com/ksystest/ksystest/harness/proto"
)

// Bounds on what one round of a workload keeps: a busy program must not
// exhaust the guest's memory or the console.
const (
	maxWorkloadCalls   = 4000
	maxWorkloadOrphans = 64
	outputTail         = 2048
)

// runWorkload runs a workload case: the program once per round, with the
// round's probes attached and the syscall tracepoint recording the calls
// they watch. It pairs each probe report with the call the tracepoint
// recorded last on the same thread: both come through one ring buffer (on
// a kernel without, the perf buffer of the CPU the call ran on), in order,
// and no two probes of a round watch the same number.
func (r *runner) runWorkload(res *proto.CaseResult, c proto.Case) {
	if err := r.loadErrs[proto.Builtin]; err != nil {
		res.Error = err.Error()
		return
	}
	b := r.cols[proto.Builtin]
	if r.oracleErr != "" {
		res.Error = "the syscall tracepoint is unavailable: " + r.oracleErr
		return
	}
	for _, w := range c.Workload.Watch {
		if err := b.SetDeref(uint32(w.NR), w.DerefArg, w.Words, w.WordSize); err != nil {
			res.Error = err.Error()
			return
		}
	}
	defer func() {
		for _, w := range c.Workload.Watch {
			_ = b.ClearDeref(uint32(w.NR))
		}
		_ = b.SetTarget(r.thread.TID)
	}()
	// Workloads talk TCP to themselves. Only they get a loopback: the
	// plain connect cases need none, and without one their calls fail at
	// once.
	if err := pid1.Loopback(true); err != nil {
		res.Error = err.Error()
		return
	}
	// Down again after: on s390x 6.12 under TCG, a blocking connect to a
	// closed port on an up loopback was seen never to return.
	defer pid1.Loopback(false)
	res.Workload = &proto.WorkloadResult{}
	for _, round := range c.Workload.Rounds {
		res.Workload.Rounds = append(res.Workload.Rounds, r.workloadRound(b, c.Workload, round))
	}
}

func (r *runner) workloadRound(b *Probes, w *proto.Workload, probes []proto.WorkloadProbe) proto.WorkloadRound {
	var out proto.WorkloadRound
	progFor := map[int64]string{}
	var detaches []func()
	defer func() {
		for _, d := range detaches {
			d()
		}
	}()
	for _, p := range probes {
		_, detach, err := b.Attach(p.Program)
		detaches = append(detaches, detach)
		if err != nil {
			if out.Errors == nil {
				out.Errors = map[string]string{}
			}
			out.Errors[p.Program] = err.Error()
		}
		for _, nr := range p.NRs {
			progFor[nr] = p.Program
		}
	}
	if _, err := b.Drain(); err != nil {
		out.Error = err.Error()
		return out
	}
	if err := b.SetWorkload(os.Getpid()); err != nil {
		out.Error = err.Error()
		return out
	}

	// Read the reports while the program runs: it may make more calls
	// than the ring holds. What the kernel could not write is counted
	// lost (a perf event array says how many).
	lostBefore := b.lostReports
	var (
		events []event
		lost   int
		rerr   error
		stop   = make(chan struct{})
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				rest, err := b.ReadEvents(time.Now())
				events, rerr = append(events, rest...), errors.Join(rerr, err)
				return
			default:
			}
			evs, err := b.ReadEvents(time.Now().Add(50 * time.Millisecond))
			if err != nil {
				rerr = err
				return
			}
			for _, ev := range evs {
				if len(events) >= 4*maxWorkloadCalls {
					lost++
					continue
				}
				events = append(events, ev)
			}
		}
	}()
	out.Exit, out.Signal, out.Stdout, out.Stderr, out.Error = runProgram(w)
	close(stop)
	<-done
	lost += int(b.lostReports - lostBefore)
	_ = b.SetTarget(r.thread.TID)
	if rerr != nil && out.Error == "" {
		out.Error = rerr.Error()
	}

	last := map[uint32]int{}
	for _, ev := range events {
		if ev.kind == kindOracle {
			prog := progFor[int64(ev.nr)]
			if prog == "" {
				continue
			}
			if len(out.Calls) >= maxWorkloadCalls {
				lost++
				delete(last, ev.tid)
				continue
			}
			out.Calls = append(out.Calls, proto.WorkloadCall{TID: ev.tid, NR: int64(ev.nr), Args: ev.args, Deref: nonZero(ev.deref), Program: prog})
			last[ev.tid] = len(out.Calls) - 1
			continue
		}
		i, ok := last[ev.tid]
		if !ok {
			if len(out.Orphans) < maxWorkloadOrphans {
				out.Orphans = append(out.Orphans, ev.args)
			} else {
				lost++
			}
			continue
		}
		out.Calls[i].Captured = append(out.Calls[i].Captured, ev.args)
	}
	out.Lost = lost
	return out
}

// runProgram runs the workload's program in /tmp in a process group of
// its own, killed whole when it outlives its timeout, and returns how it
// ended and the ends of its output.
func runProgram(w *proto.Workload) (exit int, signal, stdout, stderr, errMsg string) {
	timeout := time.Duration(w.TimeoutSec) * time.Second
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.Path, w.Args...)
	cmd.Dir = "/tmp"
	cmd.Env = []string{"PATH=/bin:/usr/bin", "HOME=/tmp", "TMPDIR=/tmp"}
	var out, errs tail
	cmd.Stdout, cmd.Stderr = &out, &errs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
	err := cmd.Run()
	stdout, stderr = out.String(), errs.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return -1, "SIGKILL", stdout, stderr, fmt.Sprintf("killed after %s", timeout)
	case errors.As(err, &ee):
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return -1, unix.SignalName(st.Signal()), stdout, stderr, ""
		}
		return ee.ExitCode(), "", stdout, stderr, ""
	default:
		return -1, "", stdout, stderr, err.Error()
	}
	return 0, "", stdout, stderr, ""
}

// tail keeps the last outputTail bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > outputTail {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-outputTail:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
