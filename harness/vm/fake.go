package vm

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ksystest/ksystest/harness/proto"
)

// Fake is a backend whose guests play a script: console lines, each after
// a delay, then an exit (or a hang). It tests the monitor and orchestrator
// without QEMU; it is never used to claim a kernel works.
type Fake struct {
	// Script returns the lines a guest prints for a spec.
	Script func(s Spec) FakeScript
	// Err, when set, fails Start (as a missing QEMU would).
	Err error

	mu      sync.Mutex
	Started []Spec
}

// FakeScript is one fake guest's life.
type FakeScript struct {
	Lines []FakeLine
	// Hang keeps the guest alive after the last line until stopped.
	Hang bool
	// Exit is what ExitError says once the guest ends by itself after the
	// last line (a QEMU killed from outside); nil for a clean end.
	Exit error
	// AsWritten keeps the event lines' sequence numbers; otherwise they
	// are numbered from 1 in the order printed, as the agent numbers them.
	AsWritten bool
}

var seqRE = regexp.MustCompile(`"seq":\d+`)

// FakeLine is a console line printed after Delay.
type FakeLine struct {
	Delay time.Duration
	Text  string
}

// Start plays the script for s.
func (f *Fake) Start(ctx context.Context, s Spec) (Instance, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	f.mu.Lock()
	f.Started = append(f.Started, s)
	f.mu.Unlock()
	pr, pw := io.Pipe()
	script := f.Script(s)
	inst := &fakeInstance{console: pr, done: make(chan struct{}), stop: make(chan struct{}), exit: script.Exit}
	go func() {
		defer func() {
			pw.Close()
			close(inst.done)
		}()
		seq := 0
		for _, l := range script.Lines {
			select {
			case <-time.After(l.Delay):
			case <-inst.stop:
				return
			}
			text := l.Text
			if !script.AsWritten && strings.Contains(text, proto.Marker) {
				seq++
				text = seqRE.ReplaceAllString(text, fmt.Sprintf(`"seq":%d`, seq))
			}
			if _, err := io.WriteString(pw, text+"\n"); err != nil {
				return
			}
		}
		if script.Hang {
			<-inst.stop
		}
	}()
	return inst, nil
}

type fakeInstance struct {
	console  io.Reader
	done     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	Stopped  bool
	exit     error
}

func (i *fakeInstance) Console() io.Reader      { return i.console }
func (i *fakeInstance) Status() (string, error) { return "running", nil }
func (i *fakeInstance) Done() <-chan struct{}   { return i.done }
func (i *fakeInstance) Stop(time.Duration) {
	i.stopOnce.Do(func() { i.Stopped = true; close(i.stop) })
	<-i.done
}

func (i *fakeInstance) ExitError() error {
	<-i.done
	if i.Stopped {
		return nil
	}
	return i.exit
}
