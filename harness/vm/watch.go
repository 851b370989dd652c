package vm

import (
	"bytes"
	"context"
	"time"
)

// A Console is one use of a guest's console: the agent's events (Monitor),
// an exec guest's frames (WatchExec), the boot floor. Follow reads the
// console and keeps the time; the Console says what each line means and
// decides the outcome. Follow calls it from one goroutine.
type Console interface {
	// Line takes one console line, its line ending cut (a line longer
	// than MaxLine comes in pieces), seen at, since QEMU started.
	Line(line []byte, at time.Duration) Next
	// Expired says the deadline passed; crash is the first line that
	// showed the kernel dying, when one did (its drain is then over). It
	// returns whether to stop the guest.
	Expired(crash string) bool
	// Interrupted says the run was asked to stop (Ctrl-C); the guest is
	// stopped after, and its last lines still come to Line.
	Interrupted(cause error)
	// Ended says the guest is gone, with why its console could not be
	// read to its end (nil: it was), why its VM ended when neither the
	// guest nor Stop ended it (Instance.ExitError), and the first crash
	// line, if any.
	Ended(readErr, exitErr error, crash string)
}

// Next is what a line means for the watch.
type Next struct {
	// Wait, when not zero, is the new deadline, from now. It is ignored
	// once the kernel showed it is dying: then the drain runs.
	Wait time.Duration
	// Stop stops the guest now (the console broke: nothing more it says
	// can count). Its last lines still come.
	Stop bool
	// Text says the line is the guest's own text, not an event or frame:
	// Follow looks in it for the kernel dying.
	Text bool
}

// MaxLine is the longest console line read whole; a longer one comes in
// pieces of this size, so that a guest cannot stop the host by never
// ending a line.
const MaxLine = 1 << 20

// Follow reads inst's console until the guest is gone, giving each line to
// c, keeping one deadline: first, then what lines ask for, then drain
// after the first line that shows the kernel dying. It never returns
// before the guest is gone: every path that gives up on it stops it
// first. It returns the time from start to the guest's end.
func Follow(ctx context.Context, inst Instance, start time.Time, first, drain time.Duration, c Console) time.Duration {
	lines := ConsoleLines(inst)
	timer := time.NewTimer(first)
	defer timer.Stop()
	var crash string
	interrupt := ctx.Done()
	take := func(line []byte) {
		next := c.Line(line, time.Since(start))
		switch {
		case crash == "" && next.Text && IsCrashLine(string(line)):
			crash = string(line)
			resetTimer(timer, drain)
		case next.Wait > 0 && crash == "":
			resetTimer(timer, next.Wait)
		}
		if next.Stop {
			inst.Stop(2 * time.Second)
		}
	}
	for _, l := range lines.Held() {
		take(l)
	}
	for {
		select {
		case l, ok := <-lines.C():
			if !ok {
				if lines.Err() != nil {
					inst.Stop(2 * time.Second)
				}
				<-inst.Done()
				c.Ended(lines.Err(), inst.ExitError(), crash)
				return time.Since(start)
			}
			take(l)
		case <-timer.C:
			if c.Expired(crash) {
				inst.Stop(2 * time.Second)
			}
		case <-interrupt:
			interrupt = nil // once: the guest is stopped, its last lines drain
			c.Interrupted(context.Cause(ctx))
			inst.Stop(2 * time.Second)
		}
	}
}

// lineSplitter is bufio.ScanLines, but a line longer than MaxLine comes in
// pieces instead of ending the scan, and what was searched for a newline
// already is not searched again as more of a long line arrives
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
	case len(data) >= MaxLine:
		s.clean = 0
		return MaxLine, data[:MaxLine], nil
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

// vmState asks the VM monitor what the guest is doing, for a reason line:
// a paused or stopped VM points at the host, a running one at the guest.
func vmState(inst Instance) string {
	st, err := inst.Status()
	if err != nil {
		return " (VM state unknown: " + err.Error() + ")"
	}
	return " (VM state: " + st + ")"
}
