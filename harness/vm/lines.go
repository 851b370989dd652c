package vm

import (
	"bufio"
	"bytes"
	"io"
	"sync"
)

// Lines is a guest's console cut into lines by the one goroutine that
// reads it, for as long as the guest lives: the standby init's words while
// a guest is handed its work, then a watch (Follow). What an earlier use
// read is held, and the next use gets it first.
type Lines struct {
	c    chan []byte
	stop chan struct{}
	once sync.Once
	// err is why the console could not be read to its end (nil at EOF);
	// it is set before c is closed.
	err error
	// held is what an earlier use read, in order.
	held [][]byte
}

// LinesOf reads r into lines, each without its line ending; a line longer
// than MaxLine comes in pieces.
func LinesOf(r io.Reader) *Lines {
	l := &Lines{c: make(chan []byte, 256), stop: make(chan struct{})}
	go func() {
		defer close(l.c)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), MaxLine)
		sc.Split((&lineSplitter{}).split)
		for sc.Scan() {
			select {
			case l.c <- bytes.Clone(sc.Bytes()):
			case <-l.stop:
				return
			}
		}
		l.err = sc.Err()
	}()
	return l
}

// C gives the lines not read yet; it is closed at the console's end.
func (l *Lines) C() <-chan []byte { return l.c }

// Err is, once C is closed, why the console could not be read to its end
// (nil: it was, or Close stopped the reading).
func (l *Lines) Err() error { return l.err }

// Hold keeps a line read from C for the next use.
func (l *Lines) Hold(line []byte) { l.held = append(l.held, line) }

// Held gives the held lines, once, in order.
func (l *Lines) Held() [][]byte {
	h := l.held
	l.held = nil
	return h
}

// Close stops reading for a console nobody will read again.
func (l *Lines) Close() { l.once.Do(func() { close(l.stop) }) }

// A Reading instance has its console's lines read already (an earlier
// use of it held some of them): Follow takes them from there. A type that
// wraps such an instance says Lines too (ConsoleLines of what it wraps).
type Reading interface {
	Lines() *Lines
}

// ConsoleLines is inst's lines: those it is reading already, or its
// console from here.
func ConsoleLines(inst Instance) *Lines {
	if r, ok := inst.(Reading); ok {
		return r.Lines()
	}
	return LinesOf(inst.Console())
}
