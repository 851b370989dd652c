package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/initramfs"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/qemu"
)

// ShellPrompt ends the guest shell's prompt; tests wait for it.
const ShellPrompt = "ksystest# "

// shellInit is PID 1 of a shell guest: mount what the agent mounts, offer
// a shell on the console, power off when it exits.
const shellInit = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /sys/kernel/tracing /sys/kernel/debug /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t tmpfs tmpfs /tmp
echo
echo "ksystest shell on %s (%s, kernel $(uname -r))"
echo "  /ksystest/agent runs the cases (/ksystest/cases.json); exit powers off."
export PS1='%s'
setsid cttyhack sh || sh
poweroff -f
`

// ShellOptions configure a shell session.
type ShellOptions struct {
	Options
	Target matrix.Target
	// Busybox gives a static busybox for a Debian suite and arch.
	Busybox func(ctx context.Context, suite, debArch string) (string, error)
	Stdin   io.Reader
	Stdout  io.Writer
	// OnStart, when set, sees QEMU's argv.
	OnStart func(argv []string)
}

// Shell boots the target's guest with a shell on the console wired to
// Stdin/Stdout, the agent, probes and cases at /ksystest, and returns
// when the guest powers off. QEMU is gone when it returns, whatever
// happened.
func Shell(ctx context.Context, o ShellOptions) error {
	t := o.Target
	a, err := arch.Lookup(t.Arch)
	if err != nil {
		return err
	}
	g, err := prepare(ctx, &o.Options, t, a)
	if err != nil {
		return err
	}
	busybox, err := o.Busybox(ctx, t.Kernel.Suite, a.DebianArch)
	if err != nil {
		return fmt.Errorf("busybox: %w", err)
	}
	work, done, err := cache.HostScratch("shell").Make()
	if err != nil {
		return err
	}
	defer done()
	initrd := filepath.Join(work, "initramfs.cpio")
	if err := writeShellInitramfs(ctx, &o.Options, g, busybox, initrd); err != nil {
		return err
	}
	bootImage, _ := g.bootImage()
	accel, _ := o.accel(a)
	p, err := qemu.Start(ctx, qemu.Config{
		Arch: a, Kernel: bootImage, Initrd: initrd, MemoryMB: t.MemoryMB, Accel: accel,
		QMPSocket: filepath.Join(work, "qmp.sock"), ExtraCmdline: o.ExtraCmdline,
	}, &qemu.IO{Stdin: o.Stdin, Stdout: o.Stdout})
	if err != nil {
		return err
	}
	if o.OnStart != nil {
		o.OnStart(p.Argv)
	}
	defer p.Kill()
	select {
	case <-p.Done():
		return nil
	case <-ctx.Done():
		p.Stop(2 * time.Second)
		return context.Cause(ctx)
	}
}

// writeShellInitramfs is a guest's initramfs with a shell as /init: the
// agent moves to /ksystest/agent, busybox comes along.
func writeShellInitramfs(ctx context.Context, o *Options, g *guest, busybox, path string) error {
	t, a := g.target, g.arch
	files, err := g.files(ctx, o)
	if err != nil {
		return err
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	for i := range files {
		if files[i].Path == "/init" {
			files[i].Path = "/ksystest/agent"
		}
	}
	files = append(files,
		initramfs.File{Path: "/init", Mode: 0o755, Data: []byte(fmt.Sprintf(shellInit, t.Name, a.Name, ShellPrompt))},
		initramfs.File{Path: "/bin/busybox", Mode: 0o755, Data: bb},
	)
	return writeArchive(path, files)
}
