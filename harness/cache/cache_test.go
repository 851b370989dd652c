package cache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCacheFileBuildsOnceAndNeverHalf(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	ctx := context.Background()
	path := c.Path("tools", "thing")
	builds := 0
	build := func(tmp string) (string, error) {
		builds++
		out := filepath.Join(tmp, "out")
		return out, os.WriteFile(out, []byte("built"), 0o644)
	}

	cached, err := c.File(ctx, "thing", path, "thing 1", build)
	require.NoError(t, err)
	assert.False(t, cached)
	cached, err = c.File(ctx, "thing", path, "thing 1", build)
	require.NoError(t, err)
	assert.True(t, cached)
	assert.Equal(t, 1, builds)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "built", string(data))

	failed := c.Path("tools", "failed")
	_, err = c.File(ctx, "failed", failed, "failed 1", func(tmp string) (string, error) {
		os.WriteFile(filepath.Join(tmp, "half"), []byte("ha"), 0o644)
		return "", errors.New("pahole died")
	})
	assert.ErrorContains(t, err, "pahole died")
	assert.NoFileExists(t, failed)
	left, _ := os.ReadDir(c.Path("tmp"))
	assert.Empty(t, left, "scratch removed")
}

// Scratch goes on every way out of Cache.File, a panic in build included,
// and its lock with it.
func TestCacheFileScratchGoneOnPanic(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	path := c.Path("tools", "thing")
	func() {
		defer func() { assert.NotNil(t, recover()) }()
		c.File(context.Background(), "thing", path, "thing 1", func(tmp string) (string, error) {
			os.WriteFile(filepath.Join(tmp, "half"), []byte("ha"), 0o644)
			panic("pahole wrapper bug")
		})
	}()
	left, _ := os.ReadDir(c.Path("tmp"))
	assert.Empty(t, left, "scratch and its lock removed")
	_, err := c.File(context.Background(), "thing", path, "thing 1", func(tmp string) (string, error) {
		out := filepath.Join(tmp, "out")
		return out, os.WriteFile(out, []byte("built"), 0o644)
	})
	assert.NoError(t, err, "lock released")
}

// holdTempDirEnv makes the test binary a helper process: it makes a
// scratch directory in the cache named by the variable, fills it, prints
// its path and waits to be killed (see TestMain).
const holdTempDirEnv = "KSYSTEST_TEST_HOLD_TEMPDIR"

func holdTempDir(cacheDir string) {
	tmp, _, err := (&Cache{Dir: cacheDir}).TempDir()
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "dbg.deb"), make([]byte, 2<<20), 0o644); err != nil {
		panic(err)
	}
	fmt.Println(tmp)
	select {}
}

// Sweep removes the scratch of a run that was killed, and only that: not
// a live run's, however old, and not a young one.
func TestSweepRemovesScratchOfKilledRuns(t *testing.T) {
	var logs strings.Builder
	c := &Cache{Dir: t.TempDir(), Logf: func(format string, args ...any) { fmt.Fprintf(&logs, format+"\n", args...) }}
	old := time.Now().Add(-time.Hour)

	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), holdTempDirEnv+"="+c.Dir)
	out, err := helper.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, helper.Start())
	t.Cleanup(func() { helper.Process.Kill(); helper.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	killed := strings.TrimSpace(line)
	require.NoError(t, os.Chtimes(killed, old, old))

	live, done, err := c.TempDir()
	require.NoError(t, err)
	defer done()
	require.NoError(t, os.Chtimes(live, old, old))
	young, err := os.MkdirTemp(c.Path("tmp"), "work-")
	require.NoError(t, err)
	legacy, err := os.MkdirTemp(c.Path("tmp"), "work-") // an older ksystest's: no lock file
	require.NoError(t, err)
	require.NoError(t, os.Chtimes(legacy, old, old))

	c.Sweep()
	assert.DirExists(t, killed, "its run is alive")
	assert.DirExists(t, live)
	assert.DirExists(t, young)
	assert.NoDirExists(t, legacy)

	require.NoError(t, helper.Process.Kill())
	helper.Wait()
	c.Sweep()
	assert.NoDirExists(t, killed)
	assert.NoFileExists(t, killed+".lock")
	assert.DirExists(t, live)
	assert.DirExists(t, young)
	assert.Contains(t, logs.String(), "cache: removed tmp/"+filepath.Base(killed)+" (2 MiB), left behind by a run that did not end cleanly")
}
