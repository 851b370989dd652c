package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
)

// Deadlines bound each phase of a guest's life; they are already scaled
// for emulation.
type Deadlines struct {
	// Boot: QEMU start to the agent's hello.
	Boot time.Duration
	// Progress: the longest gap between two events once the agent runs.
	Progress time.Duration
	// Exit: done to QEMU exiting by itself.
	Exit time.Duration
	// Drain: after a crash line, how long to keep reading for the rest of
	// the oops before killing.
	Drain time.Duration
}

// Watch is what the monitor saw of one guest.
type Watch struct {
	// Outcome is set when the guest did not complete (crash, timeout,
	// boot-error, infra-error); empty when the agent sent done.
	Outcome result.Outcome
	Reason  string
	Events  []proto.Event
	Tail    []string
	// Times since start; zero when not reached.
	AgentStart, Done, Exit time.Duration
}

// TailLines is how much console a failed cell keeps as evidence.
const TailLines = 40

// Monitor watches inst until it ends, writing the whole console to log
// and passing each event to onEvent (when not nil) as it arrives. It never
// returns before the guest is gone: every path that gives up on a guest
// stops it first.
func Monitor(ctx context.Context, inst Instance, start time.Time, dl Deadlines, log io.Writer, onEvent func(proto.Event)) *Watch {
	w := &Watch{}
	lines := make(chan string, 256)
	// readErr holds why the console could not be read to its end (a host
	// I/O error), once lines is closed.
	var readErr error
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(inst.Console())
		sc.Buffer(make([]byte, 64<<10), maxLine)
		sc.Split((&lineSplitter{}).split)
		for sc.Scan() {
			lines <- sc.Text()
		}
		readErr = sc.Err()
	}()
	var logErr error
	t := &Tail{N: TailLines}
	timer := time.NewTimer(dl.Boot)
	defer timer.Stop()
	var crashLine string
	// Events come numbered from 1 and each case once: a gap, a repeat or
	// a case reported twice means lost or doubled console lines, and
	// what the agent said can no longer be trusted to be whole.
	seq, cases := 0, map[string]bool{}
	stop := func(outcome result.Outcome, reason string) {
		if w.Outcome == "" {
			w.Outcome, w.Reason = outcome, reason
		}
		inst.Stop(2 * time.Second)
	}
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				if readErr != nil {
					stop(result.OutcomeInfraError, fmt.Sprintf("host I/O error: read the guest's console: %v", readErr))
				}
				<-inst.Done()
				w.Exit = time.Since(start)
				w.finish(crashLine, inst.ExitError())
				w.Tail = t.Lines()
				return w
			}
			line = strings.TrimRight(line, "\r")
			if _, err := fmt.Fprintln(log, line); err != nil && logErr == nil {
				// Without its console log a cell has no evidence: the
				// host failed, whatever the guest does next.
				logErr = err
				stop(result.OutcomeInfraError, fmt.Sprintf("host I/O error: write the console log: %v", err))
			}
			t.Add(line)
			ev, err := proto.Decode([]byte(line))
			switch {
			case errors.Is(err, proto.ErrNotEvent):
				if crashLine == "" && IsCrashLine(line) {
					crashLine = line
					resetTimer(timer, dl.Drain)
				}
				continue
			case err != nil:
				stop(result.OutcomeInfraError, fmt.Sprintf("garbled event from the agent: %v", err))
				continue
			case ev.Seq != seq+1:
				stop(result.OutcomeInfraError, fmt.Sprintf("agent event %d (%s) arrived after event %d: events were lost or repeated on the console", ev.Seq, ev.Type, seq))
				continue
			case ev.Case != nil && cases[ev.Case.Name]:
				stop(result.OutcomeInfraError, fmt.Sprintf("the agent reported case %s twice", ev.Case.Name))
				continue
			}
			seq = ev.Seq
			if ev.Case != nil {
				cases[ev.Case.Name] = true
			}
			w.Events = append(w.Events, ev)
			if onEvent != nil {
				onEvent(ev)
			}
			if crashLine != "" {
				continue // keep draining; the timer is the drain deadline
			}
			switch ev.Type {
			case proto.EventHello:
				w.AgentStart = time.Since(start)
				resetTimer(timer, dl.Progress)
			case proto.EventDone:
				w.Done = time.Since(start)
				resetTimer(timer, dl.Exit)
			default:
				resetTimer(timer, dl.Progress)
			}
		case <-timer.C:
			switch {
			case crashLine != "":
				stop(result.OutcomeCrash, "kernel: "+strings.TrimSpace(crashLine))
			case w.AgentStart == 0:
				stop(result.OutcomeBootError, fmt.Sprintf("no agent within %s of QEMU start%s", dl.Boot, vmState(inst)))
			case w.Done == 0:
				stop(result.OutcomeTimeout, fmt.Sprintf("no progress from the agent for %s%s", dl.Progress, vmState(inst)))
			default:
				// done arrived; the guest just did not power off: stop it.
				inst.Stop(2 * time.Second)
			}
		case <-ctx.Done():
			stop(result.OutcomeInfraError, "interrupted: "+context.Cause(ctx).Error())
		}
	}
}

// vmState asks the VM monitor what the guest is doing, for the reason
// line: a paused or stopped VM points at the host, a running one at the
// guest.
func vmState(inst Instance) string {
	st, err := inst.Status()
	if err != nil {
		return fmt.Sprintf(" (VM state unknown: %v)", err)
	}
	return fmt.Sprintf(" (VM state: %s)", st)
}

// finish decides the outcome of a guest that ended by itself. exit is
// why its VM ended when neither the guest nor the monitor ended it: the
// guest's evidence is then cut short by the host, and the outcome says so,
// unless the kernel had already said it was dying or the agent was done.
func (w *Watch) finish(crashLine string, exit error) {
	if crashLine != "" && (w.Outcome == "" || w.Outcome == result.OutcomeBootError || w.Outcome == result.OutcomeTimeout) {
		w.Outcome, w.Reason = result.OutcomeCrash, "kernel: "+strings.TrimSpace(crashLine)
		return
	}
	if w.Outcome != "" || w.Done != 0 {
		return
	}
	if exit != nil {
		w.Outcome, w.Reason = result.OutcomeInfraError, exit.Error()
		return
	}
	for _, ev := range w.Events {
		if ev.Type == proto.EventError {
			// The agent is ksystest's, not the kernel's: its failure is
			// ksystest's, never a crash.
			w.Outcome, w.Reason = result.OutcomeInfraError, "the agent failed: "+ev.Error
			return
		}
	}
	if w.AgentStart == 0 {
		w.Outcome, w.Reason = result.OutcomeBootError, "guest exited before the agent started"
		return
	}
	w.Outcome, w.Reason = result.OutcomeCrash, "guest exited without the agent's done"
}

// maxLine is the longest console line the monitor reads whole; a longer
// one is read in pieces of this size, so that a guest cannot stop the
// monitor by never ending a line.
const maxLine = 1 << 20

// lineSplitter is bufio.ScanLines, but a line longer than maxLine comes
// in pieces instead of ending the scan, and what was searched for a
// newline already is not searched again as more of a long line arrives
// (bufio.ScanLines would search it all on every read: quadratic).
type lineSplitter struct {
	// clean is how much of the data at the scanner's start holds no
	// newline.
	clean int
}

func (s *lineSplitter) split(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data[min(s.clean, len(data)):], '\n'); i >= 0 {
		n := min(s.clean, len(data)) + i
		s.clean = 0
		return n + 1, bytes.TrimSuffix(data[:n], []byte("\r")), nil
	}
	switch {
	case len(data) >= maxLine:
		s.clean = 0
		return maxLine, data[:maxLine], nil
	case atEOF && len(data) > 0:
		s.clean = 0
		return len(data), bytes.TrimSuffix(data, []byte("\r")), nil
	}
	s.clean = len(data)
	return 0, nil, nil
}

func resetTimer(t *time.Timer, d time.Duration) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(d)
}
