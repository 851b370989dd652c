package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// Scratch is a kind of scratch directory: made in Root with a name that
// starts with Prefix, and locked (a file beside it, the directory's name
// and ".lock") for as long as it lives, so that Sweep can tell a live
// run's from what a killed run left behind.
type Scratch struct {
	Root, Prefix string
	// Owned says that every directory in Root whose name starts with
	// Prefix is a scratch directory, locked or not (the cache's tmp). In
	// a directory others share (the host's temporary directory) only
	// those with a lock file beside them are.
	Owned bool
}

// HostScratch is scratch in the host's temporary directory: a guest's
// initramfs and QMP socket, a compile's output. purpose goes in the name.
func HostScratch(purpose string) Scratch {
	return Scratch{Root: os.TempDir(), Prefix: hostScratchPrefix + purpose + "-"}
}

// hostScratchPrefix starts every host scratch directory's name; a sweep of
// the host's temporary directory looks at these only.
const hostScratchPrefix = "ksystest-tmp-"

// SweepHostScratch removes the host scratch that killed runs left.
func SweepHostScratch() []Swept {
	return Scratch{Root: os.TempDir(), Prefix: hostScratchPrefix}.Sweep()
}

// Make makes a scratch directory and holds its lock. done removes both:
// defer it, so that it goes on every way out, errors, cancellation and
// panics included. A process that exits without running its defers
// (a second Ctrl-C) removes what it holds with RemoveLiveScratch.
func (s Scratch) Make() (dir string, done func(), err error) {
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return "", nil, err
	}
	dir, err = os.MkdirTemp(s.Root, s.Prefix)
	if err != nil {
		return "", nil, err
	}
	l := flock.New(dir + ".lock")
	if ok, err := l.TryLock(); !ok {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("lock %s: %v", dir, err)
	}
	live.Store(dir, l)
	var once sync.Once
	return dir, func() { once.Do(func() { release(dir, l) }) }, nil
}

// live holds the scratch directories of this process and their locks.
var live sync.Map

func release(dir string, l *flock.Flock) {
	live.Delete(dir)
	os.RemoveAll(dir)
	os.Remove(l.Path())
	l.Unlock()
}

// RemoveLiveScratch removes every scratch directory this process holds,
// for a process about to exit at once.
func RemoveLiveScratch() {
	live.Range(func(k, v any) bool {
		release(k.(string), v.(*flock.Flock))
		return true
	})
}

// staleAfter is how old scratch must be before Sweep considers it: far
// longer than the moment between making a directory and locking it.
const staleAfter = 5 * time.Minute

// Swept is a scratch directory Sweep removed, or could not.
type Swept struct {
	Dir  string
	Size int64
	Err  error
}

// Sweep removes the scratch directories that runs left behind when they
// were killed, or crashed in another goroutine than the one that would
// have removed them: those older than staleAfter whose lock no live
// process holds, and lock files whose directory is gone.
func (s Scratch) Sweep() []Swept {
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		return nil
	}
	var swept []Swept
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".lock")
		info, err := e.Info()
		if !strings.HasPrefix(name, s.Prefix) || err != nil || time.Since(info.ModTime()) < staleAfter {
			continue
		}
		dir := filepath.Join(s.Root, name)
		isLock := e.Name() != name
		if isLock && info.Mode().IsRegular() {
			if _, err := os.Lstat(dir); err == nil {
				continue // swept with its directory
			}
		} else if !e.IsDir() {
			continue
		} else if _, err := os.Lstat(dir + ".lock"); err != nil && !s.Owned {
			continue // not ksystest's, or not scratch
		}
		l := flock.New(dir + ".lock")
		if ok, _ := l.TryLock(); !ok {
			continue // a live run's
		}
		size := diskUsage(dir)
		err = os.RemoveAll(dir)
		if rerr := os.Remove(l.Path()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
		l.Unlock()
		if e.IsDir() || err != nil {
			swept = append(swept, Swept{Dir: dir, Size: size, Err: err})
		}
	}
	return swept
}
