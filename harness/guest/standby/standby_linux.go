package standby

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/ksystest/ksystest/harness/proto"
	"golang.org/x/sys/unix"
)

// shareDir is where the run's share is mounted while its archive is
// unpacked.
const shareDir = "/ksystest-share"

// Standby says whether this guest is to wait for work before its init
// does its job: its initramfs has the standby files.
func Standby() bool {
	_, err := os.Stat(proto.ModulesOrder)
	return err == nil
}

// Wait is where a saved guest waits: the share's modules loaded (ModulesOrder,
// in order), the console without echo, ready said. The host saves the
// guest while it waits here; in each restored copy Wait reads the work,
// takes it (Take) and returns with the run's files in the root. What the
// init does before Wait is in every restored copy; what it does after is
// its run's. It says on the console what happened, failures too.
func Wait(console io.Reader, out io.Writer) error {
	err := wait(console, out)
	if err != nil {
		fmt.Fprint(out, proto.StandbyLine(proto.StandbyFailed+err.Error()))
	}
	return err
}

func wait(console io.Reader, out io.Writer) error {
	if err := loadModules(proto.ModulesOrder); err != nil {
		return err
	}
	if err := noEcho(0); err != nil {
		return err
	}
	ready := monotonic()
	w, err := AwaitWork(console, out)
	if err != nil {
		return err
	}
	arrived := monotonic() - ready
	took, err := Take(w)
	if err != nil {
		return err
	}
	// CLOCK_MONOTONIC went on from where it was saved: what passed since
	// ready is the saved guest's wait, in its own time.
	fmt.Fprint(out, proto.StandbyLine(fmt.Sprintf("%swork %s after ready, %s", proto.StandbyTook,
		arrived.Round(time.Millisecond), took)))
	fmt.Fprint(out, proto.StandbyLine(proto.StandbyTaken))
	return nil
}

func monotonic() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// loadModules loads the modules the file order names, from its directory.
func loadModules(order string) error {
	data, err := os.ReadFile(order)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a kernel with all it needs built in
	}
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(string(data)) {
		if err := loadModule(filepath.Join(filepath.Dir(order), name+".ko")); err != nil {
			return fmt.Errorf("load module %s: %w", name, err)
		}
	}
	return nil
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// noEcho turns the terminal's echo off, keeping its line editing: the
// host writes whole lines.
func noEcho(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// AwaitWork says the guest is ready and reads the work line from the
// console. Nothing happens between the two in a saved guest: it is saved
// while it waits here, and each restored copy goes on from here.
func AwaitWork(console io.Reader, out io.Writer) (proto.Work, error) {
	fmt.Fprint(out, proto.StandbyLine(proto.StandbyReady))
	r := bufio.NewReaderSize(console, proto.MaxWorkLine+1)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return proto.Work{}, fmt.Errorf("a console line longer than %d bytes", proto.MaxWorkLine)
		}
		if err != nil {
			return proto.Work{}, fmt.Errorf("read the work: %w", err)
		}
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		return proto.ParseWork(line)
	}
}

// Take makes the restored guest this run's: the clock set and the RNG
// reseeded from the host's, the share mounted and its archive unpacked
// into the root, the share unmounted again. A sleep checks that the
// guest's timers came back with it: a restored guest whose timer was
// lost hangs here, and the host, seeing no StandbyTaken, boots instead.
// It returns how long each step took, for the host's log.
func Take(w proto.Work) (string, error) {
	t0 := time.Now()
	ts := unix.NsecToTimespec(w.TimeNS)
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return "", fmt.Errorf("set the clock: %w", err)
	}
	if err := reseed(w.Entropy); err != nil {
		return "", fmt.Errorf("reseed the RNG: %w", err)
	}
	// The timer check: a sleep must end.
	time.Sleep(100 * time.Microsecond)
	t1 := time.Now()
	if err := os.MkdirAll(shareDir, 0o755); err != nil {
		return "", err
	}
	if err := unix.Mount(proto.ShareTag, shareDir, "9p", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV,
		"trans=virtio,version=9p2000.L,msize=512000,cache=none"); err != nil {
		return "", fmt.Errorf("mount the run's share: %w", err)
	}
	defer unix.Unmount(shareDir, 0)
	f, err := os.Open(filepath.Join(shareDir, w.Archive))
	if err != nil {
		return "", err
	}
	defer f.Close()
	t2 := time.Now()
	files, n, err := Unpack(f, "/", mknod)
	if err != nil {
		return "", fmt.Errorf("unpack %s: %w", w.Archive, err)
	}
	t3 := time.Now()
	if err := bind(w.Binds); err != nil {
		return "", err
	}
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("clock and RNG %s, share %s, unpack %s (%d files, %d bytes), %d binds %s",
		ms(t1.Sub(t0)), ms(t2.Sub(t1)), ms(t3.Sub(t2)), files, n, len(w.Binds), ms(time.Since(t3))), nil
}

// hostDir is where the host's share is mounted when a run binds paths of
// it.
const hostDir = "/ksystest-host"

// bind mounts the host's share and each bind's host path at its guest
// path, read-only, without setuid or devices (which also keeps exec from
// asking 9p for file capabilities: mips64el's 9p answers with the host's
// errno numbers, which mean something else there).
func bind(binds []proto.Bind) error {
	if len(binds) == 0 {
		return nil
	}
	const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(proto.HostShareTag, hostDir, "9p", flags, "trans=virtio,version=9p2000.L,msize=512000,cache=loose"); err != nil {
		return fmt.Errorf("mount the host's share: %w", err)
	}
	for _, b := range binds {
		src := hostDir + b.Host
		st, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("bind %s: %w", b.Host, err)
		}
		// A mount follows a symlink where it lands: one in the guest
		// (busybox's /bin/sh) is replaced, not mounted through.
		if lst, err := os.Lstat(b.Guest); err == nil && lst.Mode()&os.ModeSymlink != 0 {
			if err := os.Remove(b.Guest); err != nil {
				return fmt.Errorf("bind %s at %s: %w", b.Host, b.Guest, err)
			}
		}
		if st.IsDir() {
			err = os.MkdirAll(b.Guest, 0o755)
		} else if err = os.MkdirAll(filepath.Dir(b.Guest), 0o755); err == nil {
			var f *os.File
			if f, err = os.OpenFile(b.Guest, os.O_CREATE|os.O_RDONLY, 0o755); err == nil {
				f.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("bind %s at %s: %w", b.Host, b.Guest, err)
		}
		if err := unix.Mount(src, b.Guest, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s at %s: %w", b.Host, b.Guest, err)
		}
		if err := unix.Mount("", b.Guest, "", unix.MS_BIND|unix.MS_REMOUNT|flags, ""); err != nil {
			return fmt.Errorf("bind %s at %s read-only: %w", b.Host, b.Guest, err)
		}
	}
	return nil
}

func mknod(path string, mode, major, minor uint32) error {
	return unix.Mknod(path, mode, int(unix.Mkdev(major, minor)))
}

// reseed credits entropy to the kernel's pool and makes its CRNG draw on
// it now: otherwise every restore of a state repeats the same random
// numbers (a saved CRNG state reseeds only on its own schedule).
func reseed(entropy []byte) error {
	f, err := os.OpenFile("/dev/random", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(entropy))
	binary.NativeEndian.PutUint32(info[0:], uint32(8*len(entropy)))
	binary.NativeEndian.PutUint32(info[4:], uint32(len(entropy)))
	copy(info[8:], entropy)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0]))); errno != 0 {
		return fmt.Errorf("RNDADDENTROPY: %w", errno)
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDRESEEDCRNG, 0); errno != 0 {
		return fmt.Errorf("RNDRESEEDCRNG: %w", errno)
	}
	return nil
}
