package guestbuild

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/cache"
)

// In a network namespace whose loopback is down, as in a guest whose init
// never brings lo up, the client stops at connect, says so and exits 1.
func TestClientNoLoopback(t *testing.T) {
	host := hostArch(t)
	requireToolchain(t, host)
	b := &CBuilder{Source: ksystest.GuestSource(), Cache: &cache.Cache{Dir: t.TempDir()}}
	p, err := b.Path(context.Background(), Client, host)
	require.NoError(t, err)
	cmd := exec.Command(p)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if errors.Is(err, syscall.EPERM) {
		t.Skip("making a network namespace needs CAP_SYS_ADMIN")
	}
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Equal(t, "client: connect 127.0.0.1: Network is unreachable\n", stderr.String())
}
