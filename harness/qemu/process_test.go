package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// QEMU's end is told from its wait status, whether ksystest killed it,
// and its last words: only an end by the guest's or ksystest's doing is
// no error.
func TestExitError(t *testing.T) {
	for name, tc := range map[string]struct {
		script   string
		killedUs bool
		want     string
	}{
		"guest powered off":     {script: "exit 0"},
		"ksystest killed it":    {script: "kill -KILL $$", killedUs: true},
		"killed from outside":   {script: "kill -KILL $$", want: "QEMU was killed by signal 9 (killed), not by ksystest: the kernel's OOM killer, or a kill from outside"},
		"terminated by SIGTERM": {script: "echo 'qemu-system-x86_64: terminating on signal 15 from pid 4242 (kill)' >&2", want: "QEMU was told to terminate by signal 15 (terminated), not by ksystest: the kernel's OOM killer, or a kill from outside; QEMU said: qemu-system-x86_64: terminating on signal 15 from pid 4242 (kill)"},
		"failed on its own":     {script: "echo 'warning: x' >&2; echo 'qemu-system-x86_64: failed to write: Input/output error' >&2; exit 1", want: "QEMU exited with status 1; QEMU said: qemu-system-x86_64: failed to write: Input/output error"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", tc.script)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := exitError(cmd.Run(), tc.killedUs, stderr.String())
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			var ee *ExitError
			require.ErrorAs(t, err, &ee)
			assert.EqualError(t, err, tc.want)
		})
	}
}

// fakeQEMU is an arch whose QEMU is a shell script.
func fakeQEMU(t *testing.T, script string) Config {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "qemu-fake")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"+script+"\n"), 0o755))
	a := mustArch(t, "x86_64")
	a.QEMU = bin
	return Config{Arch: a, Kernel: "/k", Initrd: "/i", MemoryMB: 128, Accel: AccelTCG, QMPSocket: filepath.Join(dir, "qmp.sock")}
}

// When QEMU does not come up, the error says what happened to it, not
// only that QMP failed.
func TestStartErrorsSayWhatHappened(t *testing.T) {
	_, err := Start(context.Background(), fakeQEMU(t, "echo 'qemu-fake: could not load kernel /k: No such file or directory' >&2; exit 1"), nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "QEMU exited with status 1 before its monitor answered; QEMU said: qemu-fake: could not load kernel /k: No such file or directory")

	_, err = Start(context.Background(), fakeQEMU(t, "kill -KILL $$"), nil, nil)
	assert.ErrorContains(t, err, "QEMU was killed by signal 9 (killed) before its monitor answered")

	ctx, cancel := context.WithCancelCause(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel(errors.New("interrupt")) }()
	_, err = Start(ctx, fakeQEMU(t, "exec sleep 30"), nil, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "context canceled")
	assert.Contains(t, err.Error(), "interrupted while waiting for QEMU's monitor: interrupt")
}

// TestMain lets the test binary play QEMU: with KSYSTEST_FAKE_QEMU set it
// serves QMP on the socket its argv names, prints that many console
// lines and exits, as a guest that powers off does.
func TestMain(m *testing.M) {
	if n := os.Getenv("KSYSTEST_FAKE_QEMU"); n != "" {
		os.Exit(fakeQEMUMain(n))
	}
	os.Exit(m.Run())
}

func fakeQEMUMain(lines string) int {
	var sock string
	for i, a := range os.Args {
		if a == "-qmp" && i+1 < len(os.Args) {
			sock, _, _ = strings.Cut(strings.TrimPrefix(os.Args[i+1], "unix:"), ",")
		}
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		return 1
	}
	c, err := l.Accept()
	if err != nil {
		return 1
	}
	fmt.Fprintln(c, `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}`)
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil { // qmp_capabilities
		return 1
	}
	fmt.Fprintln(c, `{"return": {}}`)
	n, _ := strconv.Atoi(lines)
	for i := range n {
		fmt.Printf("console line %d\n", i)
	}
	return 0
}

// The console is whole after QEMU has exited: the lines a guest printed
// just before powering off (the agent's done) are read, not lost to
// "file already closed" because QEMU's end was reaped first.
func TestConsoleReadAfterExit(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	c := fakeQEMU(t, "KSYSTEST_FAKE_QEMU=500 exec "+self+` "$@"`)
	p, err := Start(context.Background(), c, nil, nil)
	require.NoError(t, err)
	<-p.Done()
	out, err := io.ReadAll(p.Console())
	require.NoError(t, err)
	assert.Equal(t, 500, strings.Count(string(out), "\n"))
	assert.Contains(t, string(out), "console line 499\n")
}
