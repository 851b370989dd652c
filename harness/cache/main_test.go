package cache

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdTempDirEnv); dir != "" {
		holdTempDir(dir) // a helper process; never returns
	}
	os.Exit(m.Run())
}
