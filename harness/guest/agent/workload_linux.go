package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
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
// and no two probes of a round watch the same number. Programs of a
// user's collection write records of their own instead: those are sent
// as they are (WorkloadRound.Sets), for the host to tie to the calls.
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
		if len(w.Contents) == 0 {
			continue
		}
		if err := b.SetContents(uint32(w.NR), w.Contents); err != nil {
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
	if w := c.Workload; w.Collection != "" {
		var refused *LoadError
		switch err := r.loadErrs[w.Collection]; {
		case errors.As(err, &refused):
			// Its verdict is the refusal, as for the collection's cases.
			res.LoadError = fmt.Sprintf("collection %s did not load: %v", w.Collection, err)
			return
		case err != nil:
			res.Error = fmt.Sprintf("collection %s did not load: %v", w.Collection, err)
			return
		}
		if _, ok := r.defs[w.Collection]; !ok {
			res.Error = fmt.Sprintf("no collection %s in this guest", w.Collection)
			return
		}
	}
	res.Workload = &proto.WorkloadResult{}
	for _, round := range c.Workload.Rounds {
		res.Workload.Rounds = append(res.Workload.Rounds, r.workloadRound(b, c.Workload, round))
	}
}

// workloadRound runs the program once with the round's probes attached:
// ksystest's, or programs of the user's collection, loaded for this run
// with the program's ${pid} and ${tid} (the program started and stopped
// before its first instruction meanwhile), their records read from the
// collection's own ring buffers and perf event arrays.
func (r *runner) workloadRound(b *Probes, w *proto.Workload, probes []proto.WorkloadProbe) proto.WorkloadRound {
	var out proto.WorkloadRound
	progFor := map[int64]string{}
	col := b
	var prog *program
	if w.Collection != "" {
		// The thread that starts a traced program is the one that must
		// let it go.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var err error
		if prog, err = startProgram(w, true); err != nil {
			out.Error = err.Error()
			return out
		}
		out.PID = prog.cmd.Process.Pid
		defer prog.kill()
		o := r.opts
		def := r.defs[w.Collection]
		o.Constants, o.PID, o.TID = def.Constants, out.PID, out.PID
		if col, err = LoadProbes(def, o); err != nil {
			out.LoadError = err.Error()
			return out
		}
		col.EntryOffset = r.entryOffset
		defer col.Close()
	}
	// Detached before the collection closes.
	var detaches []func()
	defer func() {
		for _, d := range detaches {
			d()
		}
	}()
	for _, p := range probes {
		names := []string{p.Program}
		if p.Set != nil {
			names = append(names, p.Set.Programs...)
		}
		for _, n := range names {
			_, detach, err := col.Attach(n)
			detaches = append(detaches, detach)
			if err != nil && (out.Errors == nil || out.Errors[p.Program] == "") {
				if out.Errors == nil {
					out.Errors = map[string]string{}
				}
				out.Errors[p.Program] = err.Error()
			}
		}
		for _, nr := range p.NRs {
			progFor[nr] = p.Program
		}
	}
	sets := newWorkloadSets(col, probes)
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
				events, rerr = append(events, rest...), errors.Join(rerr, err, sets.read())
				return
			default:
			}
			evs, err := b.ReadEvents(time.Now().Add(50 * time.Millisecond))
			if err == nil {
				err = sets.read()
			}
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
	if prog == nil {
		var err error
		if prog, err = startProgram(w, false); err != nil {
			out.Error = err.Error()
		}
	} else if err := prog.release(); err != nil {
		out.Error = err.Error()
	}
	if out.Error == "" {
		out.Exit, out.Signal, out.Stdout, out.Stderr, out.Error = prog.wait()
	}
	close(stop)
	<-done
	lost += int(b.lostReports - lostBefore)
	out.Sets = sets.results()
	_ = b.SetTarget(r.thread.TID)
	if rerr != nil && out.Error == "" {
		out.Error = rerr.Error()
	}

	last := map[uint32]int{}
	for _, ev := range events {
		if ev.kind == kindContent {
			// Written right after its call's record, by the same program.
			if i, ok := last[ev.tid]; ok {
				out.Calls[i].Contents = append(out.Calls[i].Contents, *ev.content)
			}
			continue
		}
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

// program is a workload's program, running in /tmp in a process group of
// its own, killed whole when it outlives its timeout.
type program struct {
	cmd       *exec.Cmd
	ctx       context.Context
	cancel    context.CancelFunc
	timeout   time.Duration
	out, errs tail
	stopped   bool
	waited    bool
}

// startProgram starts the workload's program; stopped, it stops before
// its first instruction (traced: the caller's thread, locked, must
// release it) so that what watches the process can be set up for its PID
// before it runs.
func startProgram(w *proto.Workload, stopped bool) (*program, error) {
	p := &program{timeout: time.Duration(w.TimeoutSec) * time.Second, stopped: stopped}
	if p.timeout <= 0 {
		p.timeout = time.Minute
	}
	p.ctx, p.cancel = context.WithTimeout(context.Background(), p.timeout)
	cmd := exec.CommandContext(p.ctx, w.Path, w.Args...)
	cmd.Dir = "/tmp"
	cmd.Env = []string{"PATH=/bin:/usr/bin", "HOME=/tmp", "TMPDIR=/tmp"}
	cmd.Stdout, cmd.Stderr = &p.out, &p.errs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Ptrace: stopped}
	cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		p.cancel()
		return nil, fmt.Errorf("start %s: %w", w.Path, err)
	}
	if stopped {
		// A traced program stops with SIGTRAP once execve is done.
		var ws unix.WaitStatus
		if _, err := unix.Wait4(cmd.Process.Pid, &ws, 0, nil); err != nil || !ws.Stopped() {
			p.kill()
			return nil, fmt.Errorf("start %s stopped: %v (status %v)", w.Path, err, ws)
		}
	}
	return p, nil
}

// release lets a stopped program run.
func (p *program) release() error {
	if !p.stopped {
		return nil
	}
	p.stopped = false
	if err := unix.PtraceDetach(p.cmd.Process.Pid); err != nil {
		return fmt.Errorf("release %s: %w", p.cmd.Path, err)
	}
	return nil
}

// kill kills a program that has not been waited for.
func (p *program) kill() {
	if p.waited {
		return
	}
	_ = unix.Kill(-p.cmd.Process.Pid, unix.SIGKILL)
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.waited = true
	p.cancel()
}

// wait waits for the program, and returns how it ended and the ends of
// its output.
func (p *program) wait() (exit int, signal, stdout, stderr, errMsg string) {
	err := p.cmd.Wait()
	p.waited = true
	defer p.cancel()
	stdout, stderr = p.out.String(), p.errs.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case p.ctx.Err() != nil:
		return -1, "SIGKILL", stdout, stderr, fmt.Sprintf("killed after %s", p.timeout)
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

// workloadSets reads, while a workload's program runs, the records the
// round's programs of a user's collection write, each map once however
// many sets read it.
type workloadSets struct {
	sets []workloadSet
	maps map[string]*workloadMap
}

type workloadSet struct {
	out proto.WorkloadSet
	dec recordDecoder
	m   *workloadMap
}

type workloadMap struct {
	r       *records
	raw     [][]byte
	dropped int
	lost    uint64
	err     error
}

func newWorkloadSets(col *Probes, probes []proto.WorkloadProbe) *workloadSets {
	ws := &workloadSets{maps: map[string]*workloadMap{}}
	for _, p := range probes {
		if p.Set == nil {
			continue
		}
		s := workloadSet{out: proto.WorkloadSet{Program: p.Program}}
		dec, err := col.recordDecoder(*p.Set)
		s.dec, s.out.Fields = dec, dec.fields
		if err != nil {
			s.out.Error = err.Error()
			ws.sets = append(ws.sets, s)
			continue
		}
		m := ws.maps[p.Set.Events]
		if m == nil {
			r, err := col.recordReader(p.Set.Events)
			m = &workloadMap{r: r, err: err}
			if r != nil {
				m.lost = r.lost
			}
			ws.maps[p.Set.Events] = m
		}
		s.m = m
		ws.sets = append(ws.sets, s)
	}
	return ws
}

// read takes the records there are now.
func (ws *workloadSets) read() error {
	for name, m := range ws.maps {
		if m.r == nil || m.err != nil {
			continue
		}
		raw, dropped, err := m.r.read(time.Now(), 4*maxWorkloadCalls-len(m.raw))
		m.raw, m.dropped = append(m.raw, raw...), m.dropped+dropped
		if err != nil {
			m.err = fmt.Errorf("read %s: %w", name, err)
			return m.err
		}
	}
	return nil
}

// results decodes each set's records.
func (ws *workloadSets) results() []proto.WorkloadSet {
	var out []proto.WorkloadSet
	for _, s := range ws.sets {
		if m := s.m; m != nil {
			if m.err != nil {
				s.out.Error = m.err.Error()
			}
			if m.r != nil {
				s.out.Lost = m.dropped + int(m.r.lost-m.lost)
			}
			for _, b := range m.raw {
				if rec, ok := s.dec.decode(b); ok {
					s.out.Records = append(s.out.Records, rec)
				}
			}
		}
		out = append(out, s.out)
	}
	return out
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
