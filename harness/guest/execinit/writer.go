// Package execinit is PID 1 of a ksystest exec guest as a library: after
// the mounts it runs the one program its proto.ExecSpec names, in the
// spec's directory and environment, and relays the program's stdout,
// stderr and exit status to the host as frames on the console (see
// proto's ExecMarker). main powers off after it. It imports proto and
// pid1, never agent: the init stays small and does not link cilium/ebpf.
package execinit

import (
	"io"
	"sync"

	"github.com/ksystest/ksystest/harness/proto"
)

// Writer sends frames, numbered in the order they are written, one write
// per frame, so that frames from several goroutines never mix.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	seq uint64
}

// NewWriter sends frames to w (the console).
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Send sends data as frames of kind, split at proto.MaxFrameData; kinds
// without data send one empty frame.
func (w *Writer) Send(kind proto.FrameKind, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for first := true; first || len(data) > 0; first = false {
		chunk := data[:min(len(data), proto.MaxFrameData)]
		data = data[len(chunk):]
		w.seq++
		if _, err := w.w.Write(proto.EncodeFrame(proto.Frame{Seq: w.seq, Kind: kind, Data: chunk})); err != nil {
			return err
		}
	}
	return nil
}

// Fail sends why the program could not run, cut to one frame.
func (w *Writer) Fail(err error) error {
	msg := []byte(err.Error())
	return w.Send(proto.FrameFail, msg[:min(len(msg), proto.MaxFrameData)])
}
