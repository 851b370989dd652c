package vm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reading is a replayed guest whose first lines an earlier use read.
type reading struct {
	*replay
	lines *Lines
}

func (r reading) Lines() *Lines { return r.lines }

// recorder is a Console that keeps every line.
type recorder struct{ lines []string }

func (r *recorder) Line(line []byte, _ time.Duration) Next {
	r.lines = append(r.lines, string(line))
	return Next{Text: true}
}
func (r *recorder) Expired(string) bool        { return true }
func (r *recorder) Interrupted(error)          {}
func (r *recorder) Ended(error, error, string) {}

// A watch after a hand-over gets the lines the hand-over read first, then
// the rest of the console, each once and in order.
func TestFollowReadsHeldLinesFirst(t *testing.T) {
	r := newReplay([]byte("one\r\ntwo\nthree\nfour"))
	lines := LinesOf(r.Console())
	for range 2 {
		lines.Hold(<-lines.C())
	}
	var c recorder
	Follow(context.Background(), reading{r, lines}, time.Now(), time.Minute, time.Minute, &c)
	assert.Equal(t, []string{"one", "two", "three", "four"}, c.lines)
	assert.Empty(t, lines.Held(), "held lines are given once")
}

// A console nobody reads again does not keep its reader waiting.
func TestLinesCloseStopsReading(t *testing.T) {
	r := newReplay([]byte(strings.Repeat("line\n", 10000)))
	lines := LinesOf(r.Console())
	lines.Close()
	deadline := time.After(10 * time.Second)
	n := 0
	for {
		select {
		case _, ok := <-lines.C():
			if !ok {
				assert.Less(t, n, 10000, "the reader stopped before the console's end")
				return
			}
			n++
		case <-deadline:
			require.Fail(t, "the reader did not stop")
		}
	}
}
