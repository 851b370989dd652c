package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// ui shows progress on stderr: live per-cell lines and download bars on a
// terminal, plain timestamped lines elsewhere (CI logs), nothing with -q.
type ui interface {
	logf(format string, args ...any)
	phase(target, phase string)
	download(name string, size int64) (io.Writer, func())
	close()
}

func newUI(s streams, quiet bool) ui {
	if quiet {
		return quietUI{}
	}
	if f, ok := s.err.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("CI") == "" {
		return newBarsUI(f)
	}
	return &linesUI{w: s.err, start: time.Now()}
}

type quietUI struct{}

func (quietUI) logf(string, ...any)                        {}
func (quietUI) phase(string, string)                       {}
func (quietUI) download(string, int64) (io.Writer, func()) { return io.Discard, func() {} }
func (quietUI) close()                                     {}

// linesUI writes one timestamped line per event: readable in CI logs.
type linesUI struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (u *linesUI) logf(format string, args ...any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fmt.Fprintf(u.w, "%6.1fs %s\n", time.Since(u.start).Seconds(), fmt.Sprintf(format, args...))
}

// Phases are already in the log lines; downloads say their size there.
func (u *linesUI) phase(string, string)                       {}
func (u *linesUI) download(string, int64) (io.Writer, func()) { return io.Discard, func() {} }
func (u *linesUI) close()                                     {}

// barsUI draws a live line per cell (phase and elapsed time) and a bar per
// download, with log lines printed above them.
type barsUI struct {
	p      *mpb.Progress
	closed sync.Once
	mu     sync.Mutex
	cells  map[string]*cellBar
	open   map[*mpb.Bar]bool
}

type cellBar struct {
	bar   *mpb.Bar
	phase atomic.Value
}

func newBarsUI(w io.Writer) *barsUI {
	return &barsUI{
		p:     mpb.New(mpb.WithOutput(w), mpb.WithWidth(30), mpb.WithRefreshRate(150*time.Millisecond)),
		cells: map[string]*cellBar{},
		open:  map[*mpb.Bar]bool{},
	}
}

func (u *barsUI) logf(format string, args ...any) {
	fmt.Fprintf(u.p, format+"\n", args...)
}

func (u *barsUI) phase(target, phase string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.cells[target]
	if c == nil {
		c = &cellBar{}
		c.phase.Store(phase)
		c.bar = u.p.New(0, mpb.SpinnerStyle(), mpb.BarWidth(1),
			mpb.PrependDecorators(decor.Name(target, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace), decor.Any(func(decor.Statistics) string {
				return "  " + c.phase.Load().(string)
			})))
		u.cells[target] = c
		u.open[c.bar] = true
	}
	c.phase.Store(phase)
	if len(phase) > 5 && phase[:5] == "done:" {
		c.bar.SetTotal(-1, true)
		delete(u.open, c.bar)
	}
}

func (u *barsUI) download(name string, size int64) (io.Writer, func()) {
	u.mu.Lock()
	bar := u.p.AddBar(size,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncWidthR)),
		mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace), decor.Percentage(decor.WCSyncSpace)),
		mpb.BarRemoveOnComplete())
	u.open[bar] = true
	u.mu.Unlock()
	w := writerFunc(func(p []byte) (int, error) { bar.IncrBy(len(p)); return len(p), nil })
	return w, func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		if !bar.Completed() {
			bar.Abort(true)
		}
		delete(u.open, bar)
	}
}

// close ends the live view (once; later calls do nothing).
func (u *barsUI) close() {
	u.closed.Do(func() {
		u.mu.Lock()
		for bar := range u.open {
			bar.Abort(false)
		}
		u.mu.Unlock()
		u.p.Wait()
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// prefixUI is ui with every log line prefixed (exec's "exec: ").
type prefixUI struct {
	ui
	prefix string
}

func (p prefixUI) logf(format string, args ...any) { p.ui.logf(p.prefix+format, args...) }
