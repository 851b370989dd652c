package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
