package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// Save stops the guest and writes its whole machine state to w (QEMU's
// migration stream, through a pipe QEMU gets over QMP), then ends QEMU.
// QEMU 7.2 has no file: migration; fd: streams it to a pipe ksystest
// reads.
func (p *Process) Save(ctx context.Context, w io.Writer) error {
	defer p.Kill()
	if err := p.run(`{"execute":"stop"}`); err != nil {
		return fmt.Errorf("stop the guest: %w", err)
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(w, r)
		copied <- err
	}()
	err = p.withMonitor(func(mon *qmp.SocketMonitor) error {
		_, err := mon.RunWithFile([]byte(`{"execute":"getfd","arguments":{"fdname":"state"}}`), pw)
		return err
	})
	pw.Close() // QEMU has its own copy now
	if err != nil {
		return fmt.Errorf("hand QEMU the state's pipe: %w", err)
	}
	if err := p.run(`{"execute":"migrate","arguments":{"uri":"fd:state"}}`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := p.awaitMigration(ctx); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	// The stream ends when QEMU closes its end of the pipe: at its exit.
	_ = p.run(`{"execute":"quit"}`)
	select {
	case err := <-copied:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("save: QEMU did not close the state's stream")
	}
}

// Resume waits until QEMU has read a saved state (Config.Restore), then,
// if verify (which may check the state's file meanwhile) accepts it, lets
// the guest run on from where it was saved.
func (p *Process) Resume(ctx context.Context, verify func() error) error {
	if !p.restoring {
		return errors.New("restore: QEMU was not started from a saved state")
	}
	if err := p.awaitMigration(ctx); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if verify != nil {
		if err := verify(); err != nil {
			return fmt.Errorf("restore: the saved state: %w", err)
		}
	}
	if err := p.run(`{"execute":"cont"}`); err != nil {
		return fmt.Errorf("restore: continue the guest: %w", err)
	}
	return nil
}

// awaitMigration polls the migration until it completes.
func (p *Process) awaitMigration(ctx context.Context) error {
	for {
		out, err := p.runOutput(`{"execute":"query-migrate"}`)
		if err != nil {
			return err
		}
		var info struct {
			Return struct {
				Status    string `json:"status"`
				ErrorDesc string `json:"error-desc"`
			} `json:"return"`
		}
		if err := json.Unmarshal(out, &info); err != nil {
			return fmt.Errorf("query-migrate: %w", err)
		}
		switch info.Return.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("migration %s: %s%s", info.Return.Status, info.Return.ErrorDesc, lastWords(p.Stderr()))
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-p.done:
			return fmt.Errorf("QEMU %s during the migration%s", p.exitDescription(), lastWords(p.Stderr()))
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func lastWords(stderr string) string {
	if l := lastLine(stderr); l != "" {
		return "; QEMU said: " + l
	}
	return ""
}

// run sends one QMP command and checks that QEMU did not refuse it.
func (p *Process) run(cmd string) error {
	_, err := p.runOutput(cmd)
	return err
}

// runOutput sends one QMP command, bounded in time, and returns QEMU's
// answer; an "error" answer is an error.
func (p *Process) runOutput(cmd string) ([]byte, error) {
	var out []byte
	err := p.withMonitor(func(mon *qmp.SocketMonitor) error {
		var err error
		out, err = mon.Run([]byte(cmd))
		return err
	})
	if err != nil {
		return nil, err
	}
	var answer struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if json.Unmarshal(out, &answer) == nil && answer.Error != nil {
		return nil, errors.New(answer.Error.Desc)
	}
	return out, nil
}

// withMonitor runs f with QEMU's monitor, within 20 s (monitorCall).
func (p *Process) withMonitor(f func(*qmp.SocketMonitor) error) error {
	return p.monitorCall(20*time.Second, f)
}
