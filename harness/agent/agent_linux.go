// Package agent is the guest side of ksystest as a library: it mounts what
// the guest needs, loads the probes with cilium/ebpf, issues each case's
// syscall from one dedicated thread, and reports what was passed and what
// the probes captured. It judges nothing; the host compares. It must not
// import host packages (run, image, qemu, vm).
package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/trigger"
	"golang.org/x/sys/unix"
)

// Emitter writes events to the console, one write per line, so that
// concurrent console output cannot land inside an event.
type Emitter struct {
	mu  sync.Mutex
	w   io.Writer
	seq int
}

// NewEmitter writes events to w.
func NewEmitter(w io.Writer) *Emitter { return &Emitter{w: w} }

// Emit sends e.
func (e *Emitter) Emit(ev proto.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	ev.Seq = e.seq
	e.w.Write(proto.Encode(ev))
}

// Run is the agent's whole life after mounts: hello, load, every case,
// done. A fatal problem is sent as an error event; the caller powers off
// either way.
func Run(em *Emitter, cataloguePath string) error {
	em.Emit(proto.Event{Type: proto.EventHello, Hello: hello()})

	cat, err := readCatalogue(cataloguePath)
	if err != nil {
		return err
	}
	var rl = unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK.
	_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &rl)

	thread := trigger.NewThread()
	probes, loadErr := loadBuiltin(cat)
	if loadErr == nil {
		defer probes.Close()
		probes.EntryOffset = cat.EntryOffset
	}
	r := &runner{probes: probes, thread: thread, res: &trigger.GuestResources{}}
	if loadErr == nil {
		if err := probes.AttachOracle(); err != nil {
			r.oracleErr = err.Error()
		}
	}
	defer r.close()
	for _, c := range cat.Cases {
		res := proto.CaseResult{Name: c.Name}
		if loadErr != nil {
			res.Error = loadErr.Error()
		} else {
			r.run(&res, c)
		}
		em.Emit(proto.Event{Type: proto.EventCase, Case: &res})
	}
	if loadErr == nil {
		em.Emit(proto.Event{Type: proto.EventLoaded, Loaded: &proto.Loaded{
			Programs:   probes.Loaded(),
			LoadMillis: probes.LoadTime.Milliseconds(),
			Wrapper:    probes.Wrapper,
		}})
	}
	em.Emit(proto.Event{Type: proto.EventDone})
	return nil
}

// runner runs cases against loaded probes.
type runner struct {
	probes *Probes
	thread *trigger.Thread
	res    *trigger.GuestResources
	compat *compatHelper
	// oracleErr says why the syscall tracepoint is not there.
	oracleErr string
}

func (r *runner) run(res *proto.CaseResult, c proto.Case) {
	tid := r.thread.TID
	issue := func() (trigger.Call, error) { return trigger.Issue(r.thread, c, r.res) }
	if c.Compat {
		if r.compat == nil {
			h, err := startCompat(proto.CompatHelperPath)
			if err != nil {
				res.Error = err.Error()
				return
			}
			r.compat = h
		}
		tid = r.compat.TID
		issue = func() (trigger.Call, error) { return r.compat.issue(c) }
	}
	if err := r.probes.SetTarget(tid); err != nil {
		res.Error = err.Error()
		return
	}
	entry := r.probes.EntryOffset
	if c.AtEntry {
		r.probes.EntryOffset = 0
	}
	syms, detach, err := r.probes.Attach(c.Probe)
	r.probes.EntryOffset = entry
	defer detach()
	res.Attach = strings.Join(syms, ",")
	res.Section = r.probes.Section(c.Probe)
	var le *LoadError
	switch {
	case errors.Is(err, ErrNoProbe):
		res.Error = err.Error()
		return
	case errors.As(err, &le):
		// The call is still made, as for a probe that does not attach:
		// the oracle still sees it.
		res.LoadError = le.Error()
	case err != nil:
		// The call is still made: that a probe cannot attach is itself
		// what some cases expect (no sys_mmap on s390x).
		res.AttachError = err.Error()
	}
	// Anything left from an earlier case is not this case's.
	if _, err := r.probes.Drain(); err != nil {
		res.Error = err.Error()
		return
	}
	call, err := issue()
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.Passed, res.Regs, res.NArgs, res.NR, res.Ret, res.Errno = call.Passed, call.Regs, call.NArgs, call.NR, call.Ret, call.Errno
	res.Effects = call.Effects
	d, err := r.probes.Drain()
	if err != nil {
		res.Error = err.Error()
	}
	res.Captures, res.Oracle, res.OracleError = d.Captures, d.Oracle, r.oracleErr
}

func (r *runner) close() {
	if r.compat != nil {
		r.compat.close()
	}
}

// loadBuiltin loads ksystest's own probes, the first collection, against
// the kernel's BTF (or the one shipped beside them).
func loadBuiltin(cat proto.Catalogue) (*Probes, error) {
	if len(cat.Collections) == 0 || cat.Collections[0].Name != proto.Builtin {
		return nil, fmt.Errorf("catalogue names no %s collection first", proto.Builtin)
	}
	kt, err := KernelTypes(proto.BTFPath)
	if err != nil {
		return nil, err
	}
	o := LoadOptions{KernelTypes: kt}
	if syms, err := wrapperSymbols(); err != nil {
		o.SymbolsError = err.Error()
	} else {
		o.Symbols = syms
	}
	return LoadProbes(cat.Collections[0], o)
}

func readCatalogue(path string) (proto.Catalogue, error) {
	var cat proto.Catalogue
	b, err := os.ReadFile(path)
	if err != nil {
		return cat, fmt.Errorf("read catalogue: %w", err)
	}
	if err := json.Unmarshal(b, &cat); err != nil {
		return cat, fmt.Errorf("decode catalogue %s: %w", path, err)
	}
	if cat.Version != proto.Version {
		return cat, fmt.Errorf("catalogue version %d, agent speaks %d", cat.Version, proto.Version)
	}
	return cat, nil
}

func hello() *proto.Hello {
	var u unix.Utsname
	_ = unix.Uname(&u)
	h := &proto.Hello{
		Kernel:  unix.ByteSliceToString(u.Release[:]),
		Machine: unix.ByteSliceToString(u.Machine[:]),
		GOARCH:  runtime.GOARCH,
	}
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		f, _, _ := strings.Cut(string(b), " ")
		h.UptimeSec, _ = strconv.ParseFloat(f, 64)
	}
	return h
}
