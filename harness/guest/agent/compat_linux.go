package agent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/ksystest/ksystest/harness/guest/trigger"
	"github.com/ksystest/ksystest/harness/proto"
)

// compatHelper is the running 32-bit helper process.
type compatHelper struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	TID int
}

// ErrNoCompat means the guest has no 32-bit helper.
var ErrNoCompat = errors.New("no 32-bit compat helper in this guest")

func startCompat(path string) (*compatHelper, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, ErrNoCompat
	}
	cmd := exec.Command(path)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start compat helper (does the CPU run 32-bit code?): %w", err)
	}
	h := &compatHelper{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	var hello proto.CompatHello
	if err := h.read(&hello); err != nil {
		h.close()
		return nil, fmt.Errorf("compat helper hello: %w", err)
	}
	h.TID = hello.TID
	return h, nil
}

func (h *compatHelper) read(v any) error {
	if !h.out.Scan() {
		if err := h.out.Err(); err != nil {
			return err
		}
		return io.ErrUnexpectedEOF
	}
	return json.Unmarshal(h.out.Bytes(), v)
}

// issue has the helper make c's call.
func (h *compatHelper) issue(c proto.Case) (trigger.Call, error) {
	line, err := json.Marshal(c)
	if err != nil {
		return trigger.Call{}, err
	}
	if _, err := h.in.Write(append(line, '\n')); err != nil {
		return trigger.Call{}, fmt.Errorf("compat helper: %w", err)
	}
	var r proto.CaseResult
	if err := h.read(&r); err != nil {
		return trigger.Call{}, fmt.Errorf("compat helper: %w", err)
	}
	if r.Error != "" {
		return trigger.Call{}, errors.New(r.Error)
	}
	return trigger.Call{Passed: r.Passed, Regs: r.Regs, NArgs: r.NArgs, NR: r.NR, Ret: r.Ret, Errno: r.Errno, Contents: r.Contents}, nil
}

func (h *compatHelper) close() {
	h.in.Close()
	h.cmd.Wait()
}
