package run

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/vm"
)

// Orchestrator tests: a fake backend plays scripted consoles, so each
// outcome path is exercised in milliseconds. The VM tests in vm_test.go
// prove the same paths with real guests.

type fakeKernels struct{ err error }

func (f fakeKernels) Kernel(_ context.Context, t matrix.Target, a arch.Arch) (*kernel.Kernel, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &kernel.Kernel{Package: "linux-image-test-" + a.KernelFlavour, Version: "1.0", Release: "6.1.0-test", SHA256: "abc", Vmlinuz: "/nonexistent"}, nil
}

func (f fakeKernels) BTF(context.Context, matrix.Target, arch.Arch, *kernel.Kernel) (*result.BTF, string, error) {
	return &result.BTF{Source: result.BTFKernel}, "", nil
}

func (f fakeKernels) HostBTF(context.Context, *kernel.Kernel, string) (string, error) { return "", nil }

func (f fakeKernels) Modules(context.Context, matrix.Target, arch.Arch, *kernel.Kernel, []string) (*kernel.ModuleSet, error) {
	return nil, kernel.ErrNoModules
}

func (f fakeKernels) ModuleTree(context.Context, matrix.Target, *kernel.Kernel) (*kernel.ModuleTree, error) {
	return nil, kernel.ErrNoModules
}

func ev(e proto.Event) string { return string(proto.Encode(e)[:len(proto.Encode(e))-1]) }

func hello() string {
	return ev(proto.Event{Type: proto.EventHello, Hello: &proto.Hello{Kernel: "6.1.0-guest", UptimeSec: 1.5}})
}

func caseLine(name string, passed, captured []uint64) string {
	r := &proto.CaseResult{Name: name, Passed: passed}
	if captured != nil {
		r.Captures = [][]uint64{captured}
	}
	return ev(proto.Event{Type: proto.EventCase, Case: r})
}

func done() string { return ev(proto.Event{Type: proto.EventDone}) }

func lines(texts ...string) []vm.FakeLine {
	var out []vm.FakeLine
	for _, t := range texts {
		out = append(out, vm.FakeLine{Text: t})
	}
	return out
}

func setup(t *testing.T, script func(vm.Spec) vm.FakeScript) (Options, *vm.Fake) {
	t.Helper()
	m, err := matrix.Load("../../matrix.yaml", ksystest.Data)
	require.NoError(t, err)
	cat, err := matrix.LoadCatalogue("testdata/basic-cases.yaml")
	require.NoError(t, err)
	agents := t.TempDir()
	for _, a := range arch.All() {
		require.NoError(t, os.WriteFile(filepath.Join(agents, BinaryName(guestbuild.Agent, a.Go)), []byte("agent"), 0o755))
		if a.Compat != nil {
			require.NoError(t, os.WriteFile(filepath.Join(agents, BinaryName(guestbuild.Compat, *a.Compat)), []byte("helper"), 0o755))
		}
	}
	fake := &vm.Fake{Script: script}
	var targets []matrix.Target // one per 64-bit arch, in this order
	for _, name := range []string{"x86_64-6.1", "arm64-6.1", "s390x-6.12"} {
		for _, tg := range m.Targets.List {
			if tg.Name == name {
				targets = append(targets, tg)
			}
		}
	}
	require.Len(t, targets, 3)
	return Options{
		Matrix: m, Catalogue: cat, Targets: targets, OutDir: t.TempDir(), Jobs: 2,
		Kernels: fakeKernels{}, Backend: fake, Agents: Prebuilt{Dir: agents}, Builtin: ksystest.Data,
		Accel: "tcg", TimeScale: 0.005,
	}, fake
}

// goodRun reports every default case captured exactly.
func goodRun(vm.Spec) vm.FakeScript {
	p3, p5, p6 := []uint64{1, 2, 3}, []uint64{1, 2, 3, 4, 5}, []uint64{1, 2, 3, 4, 5, 6}
	return vm.FakeScript{Lines: lines("Linux version 6.1", hello(),
		caseLine("write", p3, p3), caseLine("prctl", p5, p5), caseLine("splice", p6, p6), done())}
}

func TestRunAllPass(t *testing.T) {
	o, fake := setup(t, goodRun)
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Cells, 3)
	for _, c := range res.Cells {
		assert.Equal(t, result.OutcomePass, c.Outcome, c.Target)
		assert.Equal(t, "6.1.0-guest", c.Kernel.Release)
		assert.Equal(t, "tcg", c.Accel)
		assert.Len(t, c.Cases, 3)
		assert.FileExists(t, filepath.Join(o.OutDir, c.ConsoleLog))
	}
	assert.Equal(t, 0, res.ExitCode())
	assert.Len(t, fake.Started, 3)

	var onDisk result.Run
	data, err := os.ReadFile(filepath.Join(o.OutDir, "results.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &onDisk))
	assert.Equal(t, res.Cells, onDisk.Cells)
	assert.Equal(t, 3, countLines(t, filepath.Join(o.OutDir, "results.jsonl")))
}

func countLines(t *testing.T, path string) int {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

func TestRunOutcomes(t *testing.T) {
	p := []uint64{1, 2, 3}
	for name, tc := range map[string]struct {
		script  vm.FakeScript
		outcome result.Outcome
		reason  string
		exit    int
	}{
		"wrong value": {
			script: vm.FakeScript{Lines: lines(hello(), caseLine("write", p, []uint64{1, 2, 4}),
				caseLine("prctl", p, p), caseLine("splice", p, p), done())},
			outcome: result.OutcomeFail, exit: 1,
		},
		"panic mid-run": {
			script: vm.FakeScript{Lines: lines(hello(), caseLine("write", p, p),
				"[    3.1] Kernel panic - not syncing: Fatal exception", "[    3.1] ---[ end Kernel panic ]---"), Hang: true},
			outcome: result.OutcomeCrash, reason: "Kernel panic - not syncing: Fatal exception", exit: 1,
		},
		"hang after hello": {
			script:  vm.FakeScript{Lines: lines(hello(), caseLine("write", p, p)), Hang: true},
			outcome: result.OutcomeTimeout, reason: "no progress from the agent", exit: 1,
		},
		"never boots": {
			script:  vm.FakeScript{Lines: lines("SeaBIOS"), Hang: true},
			outcome: result.OutcomeBootError, reason: "no agent within", exit: 3,
		},
		"exits without done": {
			script:  vm.FakeScript{Lines: lines(hello(), caseLine("write", p, p))},
			outcome: result.OutcomeCrash, reason: "without the agent's done", exit: 1,
		},
		"agent error": {
			script:  vm.FakeScript{Lines: lines(hello(), ev(proto.Event{Type: proto.EventError, Error: "mount tracefs: ENODEV"}))},
			outcome: result.OutcomeInfraError, reason: "the agent failed: mount tracefs: ENODEV", exit: 3,
		},
		"QEMU killed from outside": {
			script: vm.FakeScript{Lines: lines(hello(), caseLine("write", p, p)),
				Exit: errors.New("QEMU was killed by signal 9 (killed), not by ksystest: the kernel's OOM killer, or a kill from outside")},
			outcome: result.OutcomeInfraError, reason: "QEMU was killed by signal 9 (killed), not by ksystest", exit: 3,
		},
		"garbled event": {
			script:  vm.FakeScript{Lines: lines(hello(), proto.Marker+`{"v":1,"type":"ca`), Hang: true},
			outcome: result.OutcomeInfraError, reason: "garbled event", exit: 3,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o, _ := setup(t, func(vm.Spec) vm.FakeScript { return tc.script })
			o.Targets = o.Targets[:1]
			res, err := Run(context.Background(), o)
			require.NoError(t, err)
			c := res.Cells[0]
			assert.Equal(t, tc.outcome, c.Outcome)
			assert.Contains(t, c.Reason, tc.reason)
			assert.Equal(t, tc.exit, res.ExitCode())
			assert.Len(t, c.Cases, 3, "every case has a verdict, run or not")
			if tc.outcome != result.OutcomeFail {
				assert.NotEmpty(t, c.ConsoleTail, "evidence kept")
			}
		})
	}
}

func TestRunFailDiff(t *testing.T) {
	p := []uint64{10, 20, 30}
	o, _ := setup(t, func(vm.Spec) vm.FakeScript {
		return vm.FakeScript{Lines: lines(hello(), caseLine("write", p, []uint64{10, 30, 30}),
			caseLine("prctl", p, p), caseLine("splice", p, p), done())}
	})
	o.Targets = o.Targets[:1]
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	w := res.Cells[0].Cases[0]
	assert.Equal(t, result.Fail, w.Verdict)
	assert.Equal(t, "arg 2 (buf) expected 0x14, captured 0x1e", w.Message)
	assert.Equal(t, "equals passed arg 3 (count)", w.Args[1].Note)
}

func TestRunInfraErrors(t *testing.T) {
	o, _ := setup(t, goodRun)
	o.Kernels = fakeKernels{err: errors.New("download failed")}
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	for _, c := range res.Cells {
		assert.Equal(t, result.OutcomeInfraError, c.Outcome)
		assert.Contains(t, c.Reason, "download failed")
	}
	assert.Equal(t, 3, res.ExitCode())

	o, fake := setup(t, goodRun)
	fake.Err = errors.New("QEMU binary not found")
	res, err = Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, result.OutcomeInfraError, res.Cells[0].Outcome)
}

// Interrupting a run keeps finished cells and stops running ones.
func TestRunInterruptKeepsFinishedCells(t *testing.T) {
	o, _ := setup(t, func(s vm.Spec) vm.FakeScript {
		if s.Arch.Name == "x86_64" {
			return goodRun(s)
		}
		return vm.FakeScript{Lines: lines(hello()), Hang: true}
	})
	o.Jobs = 1
	o.TimeScale = 1 // long deadlines: only the cancel can end the hang
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel(errors.New("interrupt"))
	}()
	res, err := Run(ctx, o)
	require.NoError(t, err)
	assert.Equal(t, result.OutcomePass, res.Cells[0].Outcome)
	assert.Equal(t, result.OutcomeInfraError, res.Cells[1].Outcome)
	assert.Contains(t, res.Cells[1].Reason, "interrupt")

	var onDisk result.Run
	data, err := os.ReadFile(filepath.Join(o.OutDir, "results.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &onDisk))
	assert.Equal(t, result.OutcomePass, onDisk.Cells[0].Outcome)
}

// A run killed before its first cell ends leaves no earlier run's
// verdicts in its output directory: they go before anything else.
func TestRunClearsEarlierOutputs(t *testing.T) {
	o, _ := setup(t, goodRun)
	for _, name := range Outputs {
		require.NoError(t, os.WriteFile(filepath.Join(o.OutDir, name), []byte(`{"outcome": "pass"}`), 0o644))
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("killed"))
	res, err := Run(ctx, o)
	require.NoError(t, err)
	for _, c := range res.Cells {
		assert.Equal(t, result.OutcomeInfraError, c.Outcome)
	}
	for _, name := range []string{"junit.xml", "report.md"} {
		assert.NoFileExists(t, filepath.Join(o.OutDir, name))
	}
	var onDisk result.Run
	data, err := os.ReadFile(filepath.Join(o.OutDir, "results.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &onDisk))
	require.Len(t, onDisk.Cells, len(o.Targets), "this run's results, not the earlier one's")
	for _, c := range onDisk.Cells {
		assert.Equal(t, result.OutcomeInfraError, c.Outcome)
	}
}

// emptyBTF is BTF with no types: enough for a kernel the host reads
// nothing of.
func emptyBTF() []byte {
	return []byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
}

// A matrix of local kernels needs nothing of Debian's archive: the
// fetcher, which wants a mirror and a keyring, is never asked for.
func TestLocalKernelsNeedNoArchive(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{"Image": []byte("kernel"), "config": []byte("CONFIG_ARCH_HAS_SYSCALL_WRAPPER=y\n"), "vmlinux.btf": emptyBTF()} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	mf := filepath.Join(dir, "matrix.yaml")
	require.NoError(t, os.WriteFile(mf, []byte("apiVersion: ksystest/v1\ncatalogues: [builtin]\ntargets:\n"+
		"  - {arch: arm64, kernel: {local: {vmlinuz: Image, config: config}}, syscallWrapper: true, btf: vmlinux.btf}\n"), 0o644))
	m, err := matrix.Load(mf, ksystest.Data)
	require.NoError(t, err)
	o, _ := setup(t, goodRun)
	o.Matrix, o.Targets = m, m.Targets.List
	asked := false
	o.Kernels = DebianKernels{Cache: &cache.Cache{Dir: t.TempDir()}, Archive: func() (*archive.Fetcher, error) {
		asked = true
		return nil, errors.New("no mirror, no keyring")
	}}
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Cells, 1)
	assert.Equal(t, result.OutcomePass, res.Cells[0].Outcome, res.Cells[0].Reason)
	assert.False(t, asked, "the archive was asked for")

	// A target of the archive asks for it, and its error is the cell's.
	o, _ = setup(t, goodRun)
	o.Targets = o.Targets[:1]
	o.Kernels = DebianKernels{Cache: &cache.Cache{Dir: t.TempDir()}, Archive: func() (*archive.Fetcher, error) {
		return nil, errors.New("no mirror, no keyring")
	}}
	res, err = Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, result.OutcomeInfraError, res.Cells[0].Outcome)
	assert.Contains(t, res.Cells[0].Reason, "no mirror, no keyring")
}

// A run leaves nothing in the host's temporary directory, finished or
// interrupted.
func TestRunLeavesNoScratch(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	o, _ := setup(t, goodRun)
	_, err := Run(context.Background(), o)
	require.NoError(t, err)

	o, _ = setup(t, func(s vm.Spec) vm.FakeScript { return vm.FakeScript{Lines: lines(hello()), Hang: true} })
	o.TimeScale = 1
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(errors.New("interrupt")) })
	_, err = Run(ctx, o)
	require.NoError(t, err)

	ents, err := os.ReadDir(tmp)
	require.NoError(t, err)
	for _, e := range ents {
		t.Errorf("left behind: %s", e.Name())
	}
}

// A case the agent never reported fails, even when the agent said done:
// a case that did not run proves nothing.
func TestRunUnreportedCaseFails(t *testing.T) {
	p := []uint64{1, 2, 3}
	o, _ := setup(t, func(vm.Spec) vm.FakeScript {
		return vm.FakeScript{Lines: lines(hello(), caseLine("write", p, p), caseLine("prctl", p, p), done())}
	})
	o.Targets = o.Targets[:1]
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	c := res.Cells[0]
	assert.Equal(t, result.OutcomeFail, c.Outcome)
	assert.Equal(t, 1, res.ExitCode())
	require.Len(t, c.Cases, 3)
	assert.Equal(t, "splice", c.Cases[2].Name)
	assert.Equal(t, result.Fail, c.Cases[2].Verdict)
	assert.Equal(t, "the agent never reported this case", c.Cases[2].Message)
}

// A target whose guest disagrees with the matrix on the syscall wrapper
// fails, whatever its cases say.
func TestRunWrapperDisagreementFails(t *testing.T) {
	one := 1
	loaded := ev(proto.Event{Type: proto.EventLoaded, Loaded: &proto.Loaded{Wrapper: proto.Wrapper{Symbols: []string{"__se_sys_bpf"}, Loader: &one}}})
	o, _ := setup(t, func(s vm.Spec) vm.FakeScript {
		script := goodRun(s)
		script.Lines = append(script.Lines[:len(script.Lines)-1], vm.FakeLine{Text: loaded}, vm.FakeLine{Text: done()})
		return script
	})
	o.Targets = o.Targets[:1]
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	c := res.Cells[0]
	for _, cs := range c.Cases {
		assert.Equal(t, result.Pass, cs.Verdict, cs.Name)
	}
	assert.Equal(t, result.OutcomeFail, c.Outcome)
	assert.Contains(t, c.Reason, "syscall wrapper: the matrix declares yes, but kernel config unknown, guest kallsyms (__x64_sys_bpf) no")
	assert.Equal(t, 1, res.ExitCode())
}
