package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ksystest/ksystest/harness/arch"
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
	Stdin  io.Reader
	Stdout io.Writer
	// OnStart, when set, is called once the guest has the terminal.
	OnStart func()
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
	if o.Busybox == nil {
		return errors.New("shell: no busybox to give the guest")
	}
	busybox, err := o.Busybox(ctx, t.Kernel.Suite, a.DebianArch)
	if err != nil {
		return fmt.Errorf("busybox: %w", err)
	}
	files, err := shellFiles(ctx, &o.Options, g, busybox)
	if err != nil {
		return err
	}
	b, err := g.boot(ctx, &o.Options, files, &qemu.IO{Stdin: o.Stdin, Stdout: o.Stdout})
	if err != nil {
		return err
	}
	defer b.Close()
	if o.OnStart != nil {
		o.OnStart()
	}
	select {
	case <-b.Done():
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// shellFiles are a guest's initramfs with a shell as /init: the agent
// moves to /ksystest/agent, busybox comes along.
func shellFiles(ctx context.Context, o *Options, g *guest, busybox string) ([]initramfs.File, error) {
	t, a := g.target, g.arch
	files, err := g.files(ctx, o)
	if err != nil {
		return nil, err
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
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
	return files, nil
}
