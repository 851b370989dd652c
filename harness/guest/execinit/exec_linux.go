package execinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/ksystest/ksystest/harness/guest/pid1"
	"github.com/ksystest/ksystest/harness/proto"
	"golang.org/x/sys/unix"
)

// Mounts is the guest's filesystem table without the tmpfs on /tmp: a
// program's files, and the directory it runs in, may be under /tmp on the
// host (go test's binaries are), and a tmpfs there would hide their copy.
// The initramfs has /tmp as a directory of its own, in RAM like a tmpfs.
func Mounts() []pid1.Mount {
	var out []pid1.Mount
	for _, m := range pid1.Mounts {
		if m.Target != "/tmp" {
			out = append(out, m)
		}
	}
	return out
}

// Timings of the relay.
var (
	// BeatEvery is how often the init says it is alive while the program
	// runs: the host tells a silent guest from a quiet program by it.
	BeatEvery = time.Second
	// drainFor bounds how long output is read after the program ended:
	// a process it left behind may hold its stdout open for ever.
	drainFor = 2 * time.Second
)

// Run runs the program specPath describes and relays it through w: a
// start frame just before the program's execve, its output, a beat every
// BeatEvery, and an exit frame once it has ended. An error means the
// program could not be run; the caller sends it as a fail frame.
func Run(w *Writer, specPath string) error {
	spec, err := readSpec(specPath)
	if err != nil {
		return err
	}
	if err := LoadModules(spec.Modules); err != nil {
		return err
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devNull.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	start, _ := json.Marshal(proto.ExecStart{
		Kernel: unix.ByteSliceToString(uts.Release[:]), Machine: unix.ByteSliceToString(uts.Machine[:]),
		UptimeNS: uptime(),
	})
	if err := w.Send(proto.FrameStart, start); err != nil {
		return err
	}
	pid, err := syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
		Dir: spec.Dir, Env: spec.Env, Files: []uintptr{devNull.Fd(), outW.Fd(), errW.Fd()},
	})
	// The program holds the write ends now: its exit ends the relays.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return fmt.Errorf("exec %s: %w", spec.Path, err)
	}

	var relays sync.WaitGroup
	for _, r := range []struct {
		f    *os.File
		kind proto.FrameKind
	}{{outR, proto.FrameStdout}, {errR, proto.FrameStderr}} {
		relays.Add(1)
		go func() {
			defer relays.Done()
			relay(w, r.f, r.kind)
		}()
	}
	stopBeats := make(chan struct{})
	var beats sync.WaitGroup
	beats.Add(1)
	go func() {
		defer beats.Done()
		beat(w, stopBeats)
	}()

	var ws unix.WaitStatus
	for {
		_, err = unix.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	exit := proto.ExecExit{Code: ws.ExitStatus(), UptimeNS: uptime()}
	if ws.Signaled() {
		exit.Code, exit.Signal = -1, int(ws.Signal())
	}
	if err != nil {
		return fmt.Errorf("wait for %s: %w", spec.Path, err)
	}
	drained := make(chan struct{})
	go func() { relays.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainFor):
		// Closing the read ends ends the relays; nothing may follow the
		// exit frame.
		outR.Close()
		errR.Close()
		<-drained
	}
	close(stopBeats)
	beats.Wait()
	data, _ := json.Marshal(exit)
	return w.Send(proto.FrameExit, data)
}

func readSpec(path string) (proto.ExecSpec, error) {
	var spec proto.ExecSpec
	data, err := os.ReadFile(path)
	if err != nil {
		return spec, fmt.Errorf("exec spec: %w", err)
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return spec, fmt.Errorf("exec spec %s: %w", path, err)
	}
	if spec.Version != proto.ExecVersion {
		return spec, fmt.Errorf("exec spec version %d, this init speaks %d", spec.Version, proto.ExecVersion)
	}
	if spec.Path == "" || len(spec.Args) == 0 {
		return spec, fmt.Errorf("exec spec %s names no program", path)
	}
	return spec, nil
}

// relay sends what the program writes to f as frames of kind until the
// program, and whatever it left behind, closed it.
func relay(w *Writer, f *os.File, kind proto.FrameKind) {
	defer f.Close()
	buf := make([]byte, proto.MaxFrameData)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if w.Send(kind, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF && !errors.Is(err, os.ErrClosed) {
				fmt.Fprintf(os.Stderr, "ksystest-exec: read the program's %s: %v\n", kind, err)
			}
			return
		}
	}
}

func beat(w *Writer, stop <-chan struct{}) {
	t := time.NewTicker(BeatEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if w.Send(proto.FrameBeat, nil) != nil {
				return
			}
		}
	}
}

// uptime is CLOCK_BOOTTIME: time since the kernel started, the clock the
// host lines up with its own.
func uptime() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// Busybox is where an exec guest's busybox is, when it has one.
const Busybox = "/bin/busybox"

// InstallBusybox links busybox's applets into /bin (sh, ls, cat, modprobe
// ...), as a small system has them on PATH. No busybox, nothing to do.
func InstallBusybox() error {
	if _, err := os.Stat(Busybox); err != nil {
		return nil
	}
	cmd := exec.Command(Busybox, "--install", "-s", "/bin")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("busybox --install: %v: %s", err, out)
	}
	return nil
}
