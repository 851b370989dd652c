package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
	"github.com/digitalocean/go-qemu/qmp/raw"
)

// ErrNoQEMU means the QEMU binary for an arch is not installed.
var ErrNoQEMU = errors.New("QEMU binary not found")

// Process is a running QEMU with its console and QMP connection.
type Process struct {
	Argv []string

	cmd     *exec.Cmd
	console io.ReadCloser
	input   *os.File
	// restoring says QEMU was started from a saved state.
	restoring bool
	stderr    *lockedBuffer
	done      chan struct{}
	waitErr   error
	// killed says ksystest sent the SIGKILL QEMU may have died of.
	killed atomic.Bool

	mu  sync.Mutex
	qmp *qmp.SocketMonitor
}

// IO connects the guest console to a caller's streams instead of
// Console (an interactive shell). QEMU puts a terminal on stdin in raw
// mode itself.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
}

// Start launches QEMU and connects to its QMP socket. The console is
// read through Console and written through Input, unless stdio is given;
// QEMU's own stderr is kept for error reports. With c.Restore, state is
// the saved machine, a file QEMU reads itself (as fd 3: no copy, no pipe)
// before the guest can continue (Resume).
func Start(ctx context.Context, c Config, stdio *IO, state *os.File) (*Process, error) {
	argv := Argv(c)
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %s (install the %s package)", ErrNoQEMU, argv[0], c.Arch.QEMUPackage)
	}
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Stdin = nil
	// Own process group: a Ctrl-C at the terminal reaches ksystest, which
	// then stops QEMU in order, instead of QEMU dying mid-write.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{Argv: argv, cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	var feed func()
	if stdio != nil {
		cmd.Stdout = stdio.Stdout
		if f, ok := stdio.Stdin.(*os.File); ok {
			cmd.Stdin = f
		} else {
			// exec's own copying would make Wait wait for the caller's
			// reader to end, which it does only after the guest has.
			in, err := cmd.StdinPipe()
			if err != nil {
				return nil, err
			}
			feed = func() { io.Copy(in, stdio.Stdin); in.Close() }
		}
	} else {
		// A pipe of our own, not cmd.StdoutPipe: Wait closes that one as
		// soon as QEMU has exited, and a reader still draining the last
		// lines (the agent's "done") then fails with "file already
		// closed". Ours ends in EOF once QEMU's end of it is closed.
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		p.console, cmd.Stdout = closeOnEOF{r}, w
		defer w.Close() // QEMU holds its own copy once started
		// The console's input: how the host hands a guest its work.
		in, out, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		cmd.Stdin, p.input = in, out
		defer in.Close()
	}
	if c.Restore {
		if state == nil {
			return nil, errors.New("a restore without a saved state")
		}
		cmd.ExtraFiles = []*os.File{state} // fd 3: -incoming fd:3
		p.restoring = true
	}
	cmd.Stderr = p.stderr
	os.Remove(c.QMPSocket)
	if err := cmd.Start(); err != nil {
		if p.console != nil {
			p.console.Close()
		}
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	if feed != nil {
		go feed()
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.connectQMP(ctx, c.QMPSocket); err != nil {
		p.Kill()
		if said := strings.TrimSpace(p.Stderr()); said != "" {
			return nil, fmt.Errorf("%s: %w; QEMU said: %s", argv[0], err, said)
		}
		return nil, fmt.Errorf("%s: %w", argv[0], err)
	}
	return p, nil
}

// qmpConnectTimeout bounds how long QEMU may take to open its monitor
// socket: it does so before the guest runs.
const qmpConnectTimeout = 10 * time.Second

// connectQMP waits for QEMU to create its socket; QEMU exiting first means
// its arguments were refused.
func (p *Process) connectQMP(ctx context.Context, sock string) error {
	deadline := time.Now().Add(qmpConnectTimeout)
	for {
		mon, err := qmp.NewSocketMonitor("unix", sock, 2*time.Second)
		if err == nil {
			if err = mon.Connect(); err == nil {
				p.mu.Lock()
				p.qmp = mon
				p.mu.Unlock()
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("QEMU %s before its monitor answered", p.exitDescription())
		case <-ctx.Done():
			return fmt.Errorf("interrupted while waiting for QEMU's monitor: %w", context.Cause(ctx))
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("QEMU did not open its monitor socket %s within %s: %w", sock, qmpConnectTimeout, err)
		}
	}
}

// Console is the guest console (QEMU's stdout); it ends when QEMU exits.
func (p *Process) Console() io.Reader { return p.console }

// Input is the guest console's input (QEMU's stdin).
func (p *Process) Input() io.Writer { return p.input }

// Done is closed when QEMU has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitError says, once Done is closed, why QEMU ended if neither the
// guest (powering off, or rebooting on a panic with -no-reboot) nor
// ksystest (QMP quit, or its kill) ended it: a signal from elsewhere (the
// kernel's OOM killer, a kill from outside), or QEMU failing on its own
// (a host I/O error). nil otherwise.
func (p *Process) ExitError() error {
	return exitError(p.waitErr, p.killed.Load(), p.Stderr())
}

// exitDescription says how QEMU ended, for messages: "exited with status
// 1", "was killed by signal 9 (killed)".
func (p *Process) exitDescription() string {
	var ee *ExitError
	if errors.As(p.ExitError(), &ee) {
		return ee.what()
	}
	return "exited"
}

// ExitError is QEMU ending other than by the guest's or ksystest's doing.
type ExitError struct {
	// Status is QEMU's exit status; -1 when a signal ended it.
	Status int
	// Signal is the signal that ended it, or that QEMU said it was told
	// to terminate by (it exits 0 on SIGTERM, SIGINT and SIGHUP).
	Signal syscall.Signal
	// Said is QEMU's last line on stderr.
	Said string
}

func (e *ExitError) what() string {
	switch {
	case e.Status == 0 && e.Signal != 0:
		return fmt.Sprintf("was told to terminate by signal %d (%s)", int(e.Signal), e.Signal)
	case e.Signal != 0:
		return fmt.Sprintf("was killed by signal %d (%s)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("exited with status %d", e.Status)
}

func (e *ExitError) Error() string {
	msg := "QEMU " + e.what()
	if e.Signal != 0 {
		msg += ", not by ksystest: the kernel's OOM killer, or a kill from outside"
	}
	if e.Said != "" {
		msg += "; QEMU said: " + e.Said
	}
	return msg
}

// terminatingRE is what QEMU prints when a signal asks it to terminate.
var terminatingRE = regexp.MustCompile(`terminating on signal (\d+)`)

// exitError classifies QEMU's end from what Wait returned, whether
// ksystest killed it, and what it printed on stderr.
func exitError(waitErr error, killedByUs bool, stderr string) error {
	said := lastLine(stderr)
	if waitErr == nil {
		if m := terminatingRE.FindStringSubmatch(said); m != nil {
			n, _ := strconv.Atoi(m[1])
			return &ExitError{Signal: syscall.Signal(n), Said: said}
		}
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		return fmt.Errorf("wait for QEMU: %w", waitErr)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled() && killedByUs:
		return nil
	case ok && ws.Signaled():
		return &ExitError{Status: -1, Signal: ws.Signal(), Said: said}
	}
	return &ExitError{Status: ee.ExitCode(), Said: said}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// Stderr is what QEMU printed on stderr.
func (p *Process) Stderr() string { return p.stderr.String() }

// qmpCall runs f against the raw QMP API within timeout (monitorCall).
func (p *Process) qmpCall(timeout time.Duration, f func(*raw.Monitor) error) error {
	err := p.monitorCall(timeout, func(mon *qmp.SocketMonitor) error { return f(raw.NewMonitor(mon)) })
	var unanswered *monitorGone
	if err != nil && !errors.As(err, &unanswered) {
		return fmt.Errorf("QEMU's monitor: %w", err)
	}
	return err
}

// monitorCall runs f with QEMU's monitor, bounded by timeout: go-qemu can
// block for ever on a socket QEMU closed mid-command.
func (p *Process) monitorCall(timeout time.Duration, f func(*qmp.SocketMonitor) error) error {
	p.mu.Lock()
	mon := p.qmp
	p.mu.Unlock()
	if mon == nil {
		return &monitorGone{"QEMU's monitor is not connected"}
	}
	errc := make(chan error, 1)
	go func() { errc <- f(mon) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(timeout):
		return &monitorGone{fmt.Sprintf("QEMU's monitor did not answer within %s", timeout)}
	case <-p.done:
		return &monitorGone{fmt.Sprintf("QEMU %s before its monitor answered", p.exitDescription())}
	}
}

// monitorGone is a monitor call that got no answer: no monitor, none in
// time, or QEMU gone.
type monitorGone struct{ msg string }

func (e *monitorGone) Error() string { return e.msg }

// Status asks QEMU for the guest's run state ("running", "paused", …).
func (p *Process) Status() (string, error) {
	var st raw.StatusInfo
	err := p.qmpCall(2*time.Second, func(m *raw.Monitor) error {
		var err error
		st, err = m.QueryStatus()
		return err
	})
	if err != nil {
		return "", err
	}
	return st.Status.String(), nil
}

// Stop ends QEMU in order: QMP quit, then a kill if it has not exited
// within grace.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.qmpCall(grace, func(m *raw.Monitor) error { return m.Quit() })
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill ends QEMU at once and waits for it.
func (p *Process) Kill() {
	if p.cmd.Process != nil {
		p.killed.Store(true)
		_ = p.cmd.Process.Kill()
	}
	<-p.done
	if p.input != nil {
		p.input.Close()
	}
	p.mu.Lock()
	if p.qmp != nil {
		// Disconnect after exit: the socket is gone, this only frees.
		go p.qmp.Disconnect()
		p.qmp = nil
	}
	p.mu.Unlock()
}

// closeOnEOF closes the console's end of the pipe once the reader has
// read it to its end.
type closeOnEOF struct{ *os.File }

func (c closeOnEOF) Read(b []byte) (int, error) {
	n, err := c.File.Read(b)
	if err == io.EOF {
		c.File.Close()
	}
	return n, err
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
