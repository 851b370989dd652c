package vm

import (
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
	m := &agentConsole{w: &Watch{}, inst: inst, dl: dl, log: log, onEvent: onEvent,
		tail: Tail{N: TailLines}, cases: map[string]bool{}}
	m.w.Exit = Follow(ctx, inst, start, dl.Boot, dl.Drain, m)
	m.w.Tail = m.tail.Lines()
	return m.w
}

// agentConsole reads the agent's events from the console (the Console of
// Monitor).
type agentConsole struct {
	w       *Watch
	inst    Instance
	dl      Deadlines
	log     io.Writer
	logErr  error
	onEvent func(proto.Event)
	tail    Tail
	// Events come numbered from 1 and each case once: a gap, a repeat or
	// a case reported twice means lost or doubled console lines, and
	// what the agent said can no longer be trusted to be whole.
	seq   int
	cases map[string]bool
}

// fail decides the outcome, unless one is decided already.
func (m *agentConsole) fail(outcome result.Outcome, reason string) {
	if m.w.Outcome == "" {
		m.w.Outcome, m.w.Reason = outcome, reason
	}
}

func (m *agentConsole) Line(raw []byte, at time.Duration) Next {
	line := string(raw)
	if _, err := fmt.Fprintln(m.log, line); err != nil && m.logErr == nil {
		// Without its console log a cell has no evidence: the host
		// failed, whatever the guest does next.
		m.logErr = err
		m.fail(result.OutcomeInfraError, fmt.Sprintf("host I/O error: write the console log: %v", err))
		return Next{Stop: true}
	}
	m.tail.Add(line)
	ev, err := proto.Decode(raw)
	switch {
	case errors.Is(err, proto.ErrNotEvent):
		return Next{Text: true}
	case err != nil:
		m.fail(result.OutcomeInfraError, fmt.Sprintf("garbled event from the agent: %v", err))
		return Next{Stop: true}
	case ev.Seq != m.seq+1:
		m.fail(result.OutcomeInfraError, fmt.Sprintf("agent event %d (%s) arrived after event %d: events were lost or repeated on the console", ev.Seq, ev.Type, m.seq))
		return Next{Stop: true}
	case ev.Case != nil && m.cases[ev.Case.Name]:
		m.fail(result.OutcomeInfraError, fmt.Sprintf("the agent reported case %s twice", ev.Case.Name))
		return Next{Stop: true}
	}
	m.seq = ev.Seq
	if ev.Case != nil {
		m.cases[ev.Case.Name] = true
	}
	m.w.Events = append(m.w.Events, ev)
	if m.onEvent != nil {
		m.onEvent(ev)
	}
	switch ev.Type {
	case proto.EventHello:
		m.w.AgentStart = at
	case proto.EventDone:
		m.w.Done = at
		return Next{Wait: m.dl.Exit}
	}
	return Next{Wait: m.dl.Progress}
}

func (m *agentConsole) Expired(crash string) bool {
	switch {
	case crash != "":
		m.fail(result.OutcomeCrash, "kernel: "+strings.TrimSpace(crash))
	case m.w.AgentStart == 0:
		m.fail(result.OutcomeBootError, fmt.Sprintf("no agent within %s of QEMU start%s", m.dl.Boot, vmState(m.inst)))
	case m.w.Done == 0:
		m.fail(result.OutcomeTimeout, fmt.Sprintf("no progress from the agent for %s%s", m.dl.Progress, vmState(m.inst)))
	}
	// Done arrived, and the guest just did not power off: stop it too.
	return true
}

func (m *agentConsole) Interrupted(cause error) {
	m.fail(result.OutcomeInfraError, "interrupted: "+cause.Error())
}

func (m *agentConsole) Ended(readErr, exitErr error, crash string) {
	if readErr != nil {
		m.fail(result.OutcomeInfraError, fmt.Sprintf("host I/O error: read the guest's console: %v", readErr))
	}
	m.w.finish(crash, exitErr)
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
		if ev.Type == proto.EventError && strings.HasPrefix(ev.Error, proto.UnsupportedKernel) {
			// The kernel lacks what ksystest cannot do without: the
			// target names a kernel ksystest cannot test.
			w.Outcome, w.Reason = result.OutcomeConfigError, ev.Error
			return
		}
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
