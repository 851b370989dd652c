package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ksystest "github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/qemu"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/run"
)

// runCLI runs ksystest with args, with a cache and a temporary directory
// of the test's own.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("KSYSTEST_CACHE", t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
	var out, errb bytes.Buffer
	err := runMain(context.Background(), args, streams{out: &out, err: &errb})
	code = exitCode(err, &errb)
	return code, out.String(), errb.String()
}

func TestHelpAndUsage(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Usage: ksystest COMMAND")
	assert.Contains(t, out, "run ")

	code, _, errs := runCLI(t, "frobnicate")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, `unknown command "frobnicate"`)

	code, _, errs = runCLI(t, "run", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, errs, "-matrix")
	assert.Contains(t, errs, "results.json")

	code, _, _ = runCLI(t, "run", "--no-such-flag")
	assert.Equal(t, exitUsage, code)

	code, _, errs = runCLI(t, "run", "--accel", "hvf")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "--accel")
}

// A bad matrix is a usage error naming file, line and key, before
// anything is fetched or booted.
func TestBadMatrixIsUsageError(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "matrix.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: ksystest/v1\ntargets:\n  - arch: x86_64\n    kernal: {suite: bookworm}\n"), 0o644))
	code, _, errs := runCLI(t, "run", "--matrix", bad, "--out", t.TempDir())
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, bad+":4:")
	assert.Contains(t, errs, "kernal")

	code, _, errs = runCLI(t, "run", "--matrix", "../../matrix.yaml", "--only", "sparc*", "--out", t.TempDir())
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "matches none of x86_64-5.10, x86_64-6.1")
}

func TestNoMirrorIsInfraError(t *testing.T) {
	t.Setenv("KSYSTEST_DEBIAN_MIRROR", "")
	code, _, errs := runCLI(t, "run", "--matrix", "../../matrix.yaml", "--only", "x86_64-6.1", "--out", t.TempDir(),
		"--keyring", "/nonexistent.gpg", "--debian-mirror", "http://127.0.0.1:9/debian")
	assert.Equal(t, exitInfra, code)
	assert.Contains(t, errs, "keyring")
}

// lock needs a matrix that names a lock, and one of --update or --check.
func TestLockUsage(t *testing.T) {
	dir := t.TempDir()
	unlocked := filepath.Join(dir, "matrix.yaml")
	require.NoError(t, os.WriteFile(unlocked, []byte("apiVersion: ksystest/v1\ntargets:\n  - arch: x86_64\n    kernel: {suite: bookworm}\n    syscallWrapper: true\n"), 0o644))
	code, _, errs := runCLI(t, "lock", "--matrix", unlocked)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, unlocked+" names no lock file: add lock: images/kernels.lock")

	code, _, errs = runCLI(t, "lock", "--update", "--check")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "give one")
}

// A matrix whose lock is missing or damaged is a config error, said before
// anything is fetched.
func TestRunWithBadLockIsConfigError(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "matrix.yaml")
	require.NoError(t, os.WriteFile(m, []byte("apiVersion: ksystest/v1\nlock: kernels.lock\ncatalogues: [builtin]\ntargets:\n  - arch: x86_64\n    kernel: {suite: bookworm}\n    syscallWrapper: true\n"), 0o644))
	code, _, errs := runCLI(t, "run", "--matrix", m, "--debian-mirror", "http://127.0.0.1:9/debian", "--out", t.TempDir())
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "names the kernel lock "+filepath.Join(dir, "kernels.lock")+", which does not exist: run ksystest lock to write it")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "kernels.lock"), []byte("apiVersion: ksystest/v1\nkernels:\n  - target: x86_64-bookworm\n    sha: x\n"), 0o644))
	code, _, errs = runCLI(t, "run", "--matrix", m, "--debian-mirror", "http://127.0.0.1:9/debian", "--out", t.TempDir())
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, filepath.Join(dir, "kernels.lock")+`:4: unknown field "sha"`)
}

// list shows the kernel the lock pins for each target.
func TestListShowsLockedKernels(t *testing.T) {
	code, out, errs := runCLI(t, "list", "--matrix", "../../matrix.yaml", "--only", "x86_64-6.1")
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `x86_64-6.1\s+x86_64\s+bookworm linux-image-6\.1\.\S+-amd64 6\.1\.\S+ \(locked\)`, out)
}

// A project's targets: default are pinned by ksystest's own lock, which
// lock --check can check and lock cannot write.
func TestDefaultTargetsUseTheBuiltinLock(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ksystest.yaml")
	require.NoError(t, os.WriteFile(f, []byte("apiVersion: ksystest/v1\ntargets: default\ncatalogues: [builtin]\n"), 0o644))
	code, out, errs := runCLI(t, "list", "--matrix", f, "--only", "arm64-6.1")
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `arm64-6.1\s+arm64\s+bookworm linux-image-6\.1\.\S+-arm64 6\.1\.\S+ \(locked\)`, out)

	code, _, errs = runCLI(t, "lock", "--matrix", f, "--update")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "pins its targets by ksystest's images/kernels.lock, carried in ksystest itself")
}

// init writes a config that loads, and will not overwrite one.
func TestInit(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"syscall_macro.bpf.c", "regs.h"} {
		data, err := os.ReadFile(filepath.Join("../../examples/syscall-macro", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
	code, _, errs := runCLI(t, "init", dir)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "1 collections, 2 cases")
	code, out, errs := runCLI(t, "list", "--matrix", filepath.Join(dir, "ksystest.yaml"), "--only", "arm64-6.1")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "arm64-6.1")

	code, _, errs = runCLI(t, "init", dir)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "exists: give --force to overwrite it")
}

// init on examples/snoop writes the captures its own config has, by
// hand: for each tool the program, its exit program, the ring buffer or
// perf buffer, the record, the thread or process field, the kind of
// record, and the field holding each argument; it says how many of each
// record's fields it found, and ksystest loads what it wrote.
func TestInitSnoop(t *testing.T) {
	dir := t.TempDir()
	ents, err := os.ReadDir("../../examples/snoop")
	require.NoError(t, err)
	for _, e := range ents {
		if e.Name() == "ksystest.yaml" {
			continue
		}
		data, err := os.ReadFile(filepath.Join("../../examples/snoop", e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644))
	}
	code, _, errs := runCLI(t, "init", dir)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "3 collections, 4 cases")
	assert.Contains(t, errs, "opensnoop-openat: struct event in events: 4 of its 5 fields hold openat's arguments (dfd, flags, mode, path), pid the process")
	assert.Contains(t, errs, "netsnoop-sendto: struct net_event in events: 5 of its 8 fields hold sendto's arguments")

	written, err := matrix.Load(filepath.Join(dir, "ksystest.yaml"), ksystest.Data)
	require.NoError(t, err)
	got, err := written.Catalogue()
	require.NoError(t, err)
	example, err := matrix.Load("../../examples/snoop/ksystest.yaml", ksystest.Data)
	require.NoError(t, err)
	want, err := example.Catalogue()
	require.NoError(t, err)
	for name, wantName := range map[string]string{
		"opensnoop-openat":      "opensnoop-openat",
		"opensnoop_perf-openat": "opensnoop-perf-openat",
		"netsnoop-connect":      "netsnoop-connect",
		"netsnoop-sendto":       "netsnoop-sendto",
	} {
		g, ok := got.Find(name)
		require.True(t, ok, name)
		w, ok := want.Find(wantName)
		require.True(t, ok, wantName)
		assert.Equal(t, w.Collection, g.Collection, name)
		assert.Equal(t, len(w.Args), len(g.Args), name)
		require.Len(t, g.Captures, 1, name)
		require.Len(t, w.Captures, 1, name)
		gs, ws := g.Captures[0], w.Captures[0]
		assert.Equal(t, ws.Program, gs.Program, name)
		assert.Equal(t, ws.Programs, gs.Programs, name)
		assert.Equal(t, ws.Events, gs.Events, name)
		assert.Equal(t, ws.Record, gs.Record, name)
		assert.Equal(t, ws.TID, gs.TID, name)
		assert.Equal(t, ws.PID, gs.PID, name)
		assert.Equal(t, ws.Select, gs.Select, name)
		require.Len(t, gs.Args, len(ws.Args), name)
		for i := range ws.Args {
			assert.Equal(t, ws.Args[i].Field, gs.Args[i].Field, "%s arg %d", name, i+1)
		}
	}
}

// The reusable workflow other repositories call uses only flags ksystest
// has (actionlint checks the rest of it in make lint).
func TestReusableWorkflowFlags(t *testing.T) {
	data, err := os.ReadFile("../../.github/workflows/ksystest.yml")
	require.NoError(t, err)
	re := regexp.MustCompile(`ksystest (run|merge|doctor)\b([^\n]*)`)
	calls := re.FindAllStringSubmatch(string(data), -1)
	require.NotEmpty(t, calls)
	for _, c := range calls {
		_, _, help := runCLI(t, c[1], "-h")
		for _, f := range regexp.MustCompile(`\s(--[a-z-]+)`).FindAllStringSubmatch(c[2], -1) {
			assert.Contains(t, help, "  -"+strings.TrimPrefix(f[1], "--")+" ", "ksystest %s has no %s", c[1], f[1])
		}
	}
}

// A run that ends before its first cell leaves nothing of an earlier
// run's verdicts in --out. Here it ends at its config (the matrix names a
// kernel lock that is missing), before run.Run would clear --out: the
// command must clear it first.
func TestRunEndingEarlyLeavesNoStalePass(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "matrix.yaml")
	require.NoError(t, os.WriteFile(m, []byte("apiVersion: ksystest/v1\nlock: kernels.lock\ncatalogues: [builtin]\ntargets:\n"+
		"  - arch: x86_64\n    kernel: {suite: bookworm}\n    syscallWrapper: true\n"), 0o644))
	out := t.TempDir()
	stale := map[string]string{
		"results.json":  `{"schema": 1, "cells": [{"target": "x86_64-6.1", "outcome": "pass"}]}`,
		"results.jsonl": `{"target": "x86_64-6.1", "outcome": "pass"}`,
		"junit.xml":     `<testsuites tests="1" failures="0"></testsuites>`,
		"report.md":     "## ksystest: 1 target: 1 pass\n",
	}
	for name, text := range stale {
		require.NoError(t, os.WriteFile(filepath.Join(out, name), []byte(text), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644))
	code, _, errs := runCLI(t, "run", "--matrix", m, "--out", out)
	assert.Equal(t, exitUsage, code, errs)
	assert.Contains(t, errs, "kernels.lock, which does not exist")
	for name := range stale {
		assert.NoFileExists(t, filepath.Join(out, name), "the earlier run's")
	}
	assert.FileExists(t, filepath.Join(out, "notes.txt"), "only ksystest's own outputs go")
}

// Every file the reports write is one a new run clears.
func TestReportsAreOutputs(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, writeReports(streams{out: io.Discard, err: io.Discard}, &result.Run{Schema: result.SchemaVersion}, out))
	ents, err := os.ReadDir(out)
	require.NoError(t, err)
	require.NotEmpty(t, ents)
	for _, e := range ents {
		assert.Contains(t, run.Outputs, e.Name())
	}
}

// A matrix of local kernels needs no Debian mirror and no keyring: here
// the run gets as far as reading the kernel's BTF (junk, so it stops
// there, before any guest) with neither.
func TestLocalKernelsNeedNoMirrorOrKeyring(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"Image": "kernel", "config": "CONFIG_X=y\n", "vmlinux.btf": "not BTF"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	mf := filepath.Join(dir, "matrix.yaml")
	require.NoError(t, os.WriteFile(mf, []byte("apiVersion: ksystest/v1\ncatalogues: [builtin]\ntargets:\n"+
		"  - {arch: arm64, kernel: {local: {vmlinuz: Image, config: config}}, syscallWrapper: true, btf: vmlinux.btf}\n"), 0o644))
	t.Setenv("KSYSTEST_DEBIAN_MIRROR", "")
	code, out, errs := runCLI(t, "run", "--matrix", mf, "--out", filepath.Join(dir, "out"), "--keyring", "/nonexistent.gpg",
		"--debian-mirror", "http://127.0.0.1:9/debian", "--cache-dir", t.TempDir(), "--agent-dir", t.TempDir())
	assert.Equal(t, exitInfra, code)
	assert.NotContains(t, errs, "keyring")
	assert.NotContains(t, errs, "Debian mirror")
	assert.Contains(t, errs, "kernel BTF "+filepath.Join(dir, "vmlinux.btf"), out)
}

// The booting commands sweep what killed runs left in the host's
// temporary directory before they start.
func TestRunSweepsScratchOfKilledRuns(t *testing.T) {
	tmp := t.TempDir()
	leftover := filepath.Join(tmp, "ksystest-tmp-x86_64-6.1-42")
	require.NoError(t, os.MkdirAll(leftover, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(leftover, "initramfs.cpio"), make([]byte, 1<<20), 0o644))
	require.NoError(t, os.WriteFile(leftover+".lock", nil, 0o644))
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{leftover, leftover + ".lock"} {
		require.NoError(t, os.Chtimes(p, old, old))
	}
	var out, errb bytes.Buffer
	t.Setenv("TMPDIR", tmp)
	t.Setenv("KSYSTEST_CACHE", t.TempDir())
	err := runMain(context.Background(), []string{"run", "--matrix", "../../matrix.yaml", "--only", "x86_64-6.1", "--out", t.TempDir(),
		"--keyring", "/nonexistent.gpg", "--debian-mirror", "http://127.0.0.1:9/debian", "--agent-dir", t.TempDir()}, streams{out: &out, err: &errb})
	assert.Equal(t, exitInfra, exitCode(err, &errb))
	assert.NoDirExists(t, leftover)
	assert.NoFileExists(t, leftover+".lock")
	assert.Contains(t, errb.String(), "removed "+leftover+" (1 MiB), left behind by a run that did not end cleanly")
}

// --accel kvm where KVM cannot run a target's guests fails at once with
// the reason, as a usage error, instead of a guest that never boots.
func TestAccelKVMWithoutKVMFailsAtOnce(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "kvm")
	require.NoError(t, os.WriteFile(dev, nil, 0o600))
	cpuinfo := filepath.Join(dir, "cpuinfo")
	require.NoError(t, os.WriteFile(cpuinfo, []byte("processor: 0\nflags\t\t: fpu vme hypervisor sse\n"), 0o644))
	saved := kvmProbe
	t.Cleanup(func() { kvmProbe = saved })
	kvmProbe = qemu.KVMProbe{Device: dev, CPUInfo: cpuinfo}

	host, err := arch.ByGOARCH(runtime.GOARCH)
	require.NoError(t, err)
	start := time.Now()
	code, _, errs := runCLI(t, "run", "--accel", "kvm", "--matrix", "../../matrix.yaml", "--only", host.Name+"-6.1", "--out", t.TempDir())
	assert.Equal(t, exitUsage, code)
	assert.Less(t, time.Since(start), 5*time.Second)
	if runtime.GOARCH == "amd64" {
		assert.Contains(t, errs, "--accel kvm: x86_64-6.1: "+dev+" exists but the CPU has no vmx/svm flag")
	}

	code, _, errs = runCLI(t, "run", "--accel", "kvm", "--matrix", "../../matrix.yaml", "--only", "s390x-6.1", "--out", t.TempDir())
	assert.Equal(t, exitUsage, code)
	if runtime.GOARCH != "s390x" {
		assert.Contains(t, errs, "--accel kvm: s390x-6.1: guest arch differs from host")
	}
}
