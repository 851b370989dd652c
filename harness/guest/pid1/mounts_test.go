package pid1

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeSystem struct {
	mounted []string
	fail    map[string]error
}

func (f *fakeSystem) MkdirAll(string) error { return nil }

func (f *fakeSystem) Mount(_, target, _ string) error {
	if err := f.fail[target]; err != nil {
		return err
	}
	f.mounted = append(f.mounted, target)
	return nil
}

func TestMountAllOrderAndErrors(t *testing.T) {
	sys := &fakeSystem{fail: map[string]error{
		"/dev":                errBusy,                  // automounted: fine
		"/sys/fs/bpf":         errors.New("ENODEV"),     // optional: fine
		"/sys/kernel/tracing": errors.New("no tracefs"), // required
	}}
	err := MountAll(sys, Mounts)
	require.Error(t, err)
	assert.ErrorContains(t, err, "mount tracefs on /sys/kernel/tracing: no tracefs")
	assert.NotContains(t, err.Error(), "bpf")
	assert.Equal(t, []string{"/proc", "/sys", "/sys/kernel/debug", "/sys/fs/cgroup", "/dev/shm", "/run", "/tmp"}, sys.mounted)
}
