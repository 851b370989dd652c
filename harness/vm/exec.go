package vm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ksystest/ksystest/harness/proto"
)

// ExecOutcome is how a ksystest exec guest ended.
type ExecOutcome string

// Exec outcomes; each but ExecExited means the program's own status is
// unknown.
const (
	// ExecExited: the program ended and the init said how.
	ExecExited ExecOutcome = "exited"
	// ExecNotRun: the init could not start the program.
	ExecNotRun ExecOutcome = "not-run"
	// ExecCrash: the kernel crashed, or the guest ended before the
	// program's exit status reached the host.
	ExecCrash ExecOutcome = "crash"
	// ExecTimeout: no start within the boot deadline, the program still
	// running at its deadline, or the guest silent (no beat) too long.
	ExecTimeout ExecOutcome = "timeout"
	// ExecChannelError: frames arrived garbled, out of order or missing:
	// what the program wrote cannot be trusted to be complete.
	ExecChannelError ExecOutcome = "channel-error"
	// ExecInterrupted: the host was asked to stop (Ctrl-C), or something
	// on it ended the VM (QEMU killed from outside, the OOM killer).
	ExecInterrupted ExecOutcome = "interrupted"
)

// ExecDeadlines bound a ksystest exec guest; already scaled for
// emulation, except Run, which is the user's.
type ExecDeadlines struct {
	// Boot: QEMU start to the program's start.
	Boot time.Duration
	// Silence: the longest gap between frames while the program runs
	// (the init beats once a second).
	Silence time.Duration
	// Run: the program's start to its exit.
	Run time.Duration
	// Exit: the exit frame to QEMU exiting by itself.
	Exit time.Duration
	// Drain: after a crash line, how long to read the rest of the oops.
	Drain time.Duration
}

// ExecStreams is where a guest's program output goes.
type ExecStreams struct {
	Stdout, Stderr io.Writer
	// Console, when not nil, gets every console line that is not a frame
	// (the kernel's messages), as it comes.
	Console io.Writer
}

// ExecWatch is what WatchExec saw of one guest.
type ExecWatch struct {
	Outcome ExecOutcome
	// Reason says why, for every outcome but ExecExited.
	Reason string
	Start  proto.ExecStart
	Exit   proto.ExecExit
	// Tail is the end of the console, frames left out.
	Tail []string
	// Times since QEMU start; zero when not reached.
	Started, Exited, Gone time.Duration
	// OutBytes and ErrBytes count what the program wrote.
	OutBytes, ErrBytes int64
}

// maxConsoleLine bounds a console line the host keeps as evidence; the
// rest of a longer one is dropped (a frame is far shorter).
const maxConsoleLine = 64 << 10

// WatchExec watches a ksystest exec guest until it ends, writing the
// program's output to streams as frames arrive. It never returns before
// the guest is gone: every path that gives up on it stops it first.
func WatchExec(ctx context.Context, inst Instance, start time.Time, dl ExecDeadlines, streams ExecStreams) *ExecWatch {
	r := newExecReader(streams)
	r.inst, r.dl = inst, dl
	gone := Follow(ctx, inst, start, dl.Boot, dl.Drain, r)
	w := r.finish()
	w.Gone = gone
	return w
}

// Line is the exec reader as Follow's Console: what a line means for the
// deadlines. While the program runs, the deadline is the sooner of the
// next beat's and the end of its run.
func (r *execReader) Line(line []byte, at time.Duration) Next {
	switch r.line(line, at) {
	case lineOther:
		return Next{Text: true}
	case lineStart:
		r.started = time.Now()
		return Next{Wait: min(r.dl.Silence, r.dl.Run)}
	case lineFrame:
		return Next{Wait: max(min(r.dl.Silence, r.dl.Run-time.Since(r.started)), time.Nanosecond)}
	case lineExit:
		return Next{Wait: r.dl.Exit}
	case lineBroken:
		return Next{Stop: true}
	}
	return Next{}
}

func (r *execReader) Expired(crash string) bool {
	switch {
	case crash != "":
		r.crashLine = crash
		r.end(ExecCrash, "kernel: "+strings.TrimSpace(crash))
	case r.w.Started == 0:
		r.end(ExecTimeout, fmt.Sprintf("the program did not start within %s of QEMU start%s", r.dl.Boot, vmState(r.inst)))
	case r.w.Exited == 0 && time.Since(r.started) >= r.dl.Run:
		r.end(ExecTimeout, fmt.Sprintf("the program was still running %s after it started", r.dl.Run))
	case r.w.Exited == 0:
		r.end(ExecTimeout, fmt.Sprintf("the guest was silent for %s while the program ran%s", r.dl.Silence, vmState(r.inst)))
	}
	// The exit status is in, and the guest just did not power off: stop
	// it too.
	return true
}

func (r *execReader) Interrupted(cause error) { r.end(ExecInterrupted, cause.Error()) }

func (r *execReader) Ended(readErr, exitErr error, crash string) {
	if crash != "" {
		r.crashLine = crash
	}
	if exitErr != nil && crash == "" {
		// Something on the host ended the VM, not the kernel.
		r.end(ExecInterrupted, exitErr.Error())
	}
}

type lineKind int

const (
	lineOther lineKind = iota
	lineStart
	lineFrame
	lineExit
	// lineBroken: the channel broke; nothing the guest says counts.
	lineBroken
)

// execReader turns console lines into the program's output and what the
// guest said, trusting nothing: frames must parse, come numbered from 1
// without gaps and in the order start, output and beats, exit or fail.
type execReader struct {
	streams ExecStreams
	inst    Instance
	dl      ExecDeadlines
	w       ExecWatch
	tail    Tail
	next    uint64
	// crashLine is the kernel's first dying line, as Follow saw it.
	crashLine string
	// ended is set once an outcome is decided; later lines are kept as
	// evidence only.
	ended bool
	// started is when the start frame arrived: the program's run is
	// bounded from there.
	started time.Time
}

func newExecReader(streams ExecStreams) *execReader {
	return &execReader{streams: streams, tail: Tail{N: TailLines}, next: 1}
}

// end decides the outcome unless one is already decided.
func (r *execReader) end(outcome ExecOutcome, reason string) {
	if !r.ended {
		r.ended = true
		r.w.Outcome, r.w.Reason = outcome, reason
	}
}

func (r *execReader) line(line []byte, at time.Duration) lineKind {
	f, err := proto.ParseFrame(line)
	if errors.Is(err, proto.ErrNotFrame) {
		text := string(line[:min(len(line), maxConsoleLine)])
		r.tail.Add(text)
		if r.streams.Console != nil {
			fmt.Fprintln(r.streams.Console, text)
		}
		return lineOther
	}
	if r.ended {
		return lineOther
	}
	if err != nil {
		return r.broken("garbled frame from the guest: %v", err)
	}
	if f.Seq != r.next {
		return r.broken("frame %d from the guest where %d was due: frames were lost", f.Seq, r.next)
	}
	r.next++
	if (f.Kind == proto.FrameStart) != (r.w.Started == 0) && f.Kind != proto.FrameFail {
		return r.broken("frame %d from the guest is %q, out of order", f.Seq, f.Kind)
	}
	switch f.Kind {
	case proto.FrameStart:
		if err := strictJSON(f.Data, &r.w.Start); err != nil {
			return r.broken("start frame: %v", err)
		}
		r.w.Started = at
		return lineStart
	case proto.FrameStdout:
		r.w.OutBytes += int64(len(f.Data))
		r.streams.Stdout.Write(f.Data)
	case proto.FrameStderr:
		r.w.ErrBytes += int64(len(f.Data))
		r.streams.Stderr.Write(f.Data)
	case proto.FrameExit:
		if err := strictJSON(f.Data, &r.w.Exit); err != nil {
			return r.broken("exit frame: %v", err)
		}
		if e := r.w.Exit; !(e.Code >= 0 && e.Code <= 255 && e.Signal == 0) && !(e.Code == -1 && e.Signal > 0 && e.Signal < 128) {
			return r.broken("exit frame: status %d, signal %d", e.Code, e.Signal)
		}
		r.w.Exited = at
		r.end(ExecExited, "")
		return lineExit
	case proto.FrameFail:
		r.end(ExecNotRun, "the guest could not run the program: "+strings.ToValidUTF8(string(f.Data), "?"))
		return lineExit
	}
	return lineFrame
}

func (r *execReader) broken(format string, args ...any) lineKind {
	r.end(ExecChannelError, fmt.Sprintf(format, args...))
	return lineBroken
}

// finish decides the outcome of a guest that has ended.
func (r *execReader) finish() *ExecWatch {
	switch {
	case r.crashLine != "" && r.w.Outcome != ExecInterrupted:
		r.ended = false // a crash outweighs whatever was decided
		r.end(ExecCrash, "kernel: "+strings.TrimSpace(r.crashLine))
	case r.w.Started == 0:
		r.end(ExecCrash, "the guest ended before the program started")
	default:
		r.end(ExecCrash, "the guest ended before the program's exit status came")
	}
	w := r.w
	w.Tail = r.tail.Lines()
	return &w
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
