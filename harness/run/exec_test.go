package run

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/initramfs"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/vm"
)

// fakeELF writes the ELF header of a program for a (with a program
// interpreter when interp is set): what ReadProgram reads.
func fakeELF(t *testing.T, path string, a arch.Arch, interp string) {
	t.Helper()
	var order binary.ByteOrder = binary.LittleEndian
	if a.ELFData == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	var buf bytes.Buffer
	w := func(v any) { require.NoError(t, binary.Write(&buf, order, v)) }
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(a.ELFClass), byte(a.ELFData), 1}
	phnum := uint16(0)
	if interp != "" {
		phnum = 1
	}
	if a.ELFClass == elf.ELFCLASS64 {
		w(elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(a.ELFMachine), Version: 1,
			Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: phnum, Shentsize: 64})
		if interp != "" {
			w(elf.Prog64{Type: uint32(elf.PT_INTERP), Off: 64 + 56, Filesz: uint64(len(interp) + 1), Memsz: uint64(len(interp) + 1)})
		}
	} else {
		w(elf.Header32{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(a.ELFMachine), Version: 1,
			Phoff: 52, Ehsize: 52, Phentsize: 32, Phnum: phnum, Shentsize: 40})
		if interp != "" {
			w(elf.Prog32{Type: uint32(elf.PT_INTERP), Off: 52 + 32, Filesz: uint32(len(interp) + 1), Memsz: uint32(len(interp) + 1)})
		}
	}
	if interp != "" {
		buf.WriteString(interp + "\x00")
	}
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o755))
}

func TestReadProgram(t *testing.T) {
	dir := t.TempDir()
	for _, a := range arch.All() {
		p := filepath.Join(dir, a.Name)
		fakeELF(t, p, a, "")
		prog, err := ReadProgram(p)
		require.NoError(t, err, a.Name)
		assert.Equal(t, a.Name, prog.Arch.Name)
		assert.True(t, prog.RunsOn(a))
	}
	x86, arm64 := mustArch(t, "x86_64"), mustArch(t, "arm64")
	prog, err := ReadProgram(filepath.Join(dir, "i386"))
	require.NoError(t, err)
	assert.True(t, prog.RunsOn(x86), "x86_64 guests run i386 programs")
	assert.False(t, prog.RunsOn(arm64))

	dyn := filepath.Join(dir, "dynamic")
	fakeELF(t, dyn, arm64, "/lib/ld-linux-aarch64.so.1")
	prog, err = ReadProgram(dyn)
	require.NoError(t, err)
	assert.Equal(t, "/lib/ld-linux-aarch64.so.1", prog.Interp)
	err = prog.Static()
	var pe *ProgramError
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, ErrNotStatic)
	assert.ErrorContains(t, err, "it asks for /lib/ld-linux-aarch64.so.1")

	text := filepath.Join(dir, "script")
	require.NoError(t, os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755))
	_, err = ReadProgram(text)
	require.ErrorAs(t, err, &pe)
	assert.ErrorContains(t, err, "not an ELF program")

	_, err = ReadProgram(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestTreeFiles(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"go.mod": "module x\n", "testdata/in.txt": "input", ".git/objects/ab": "git", "sub/.git": "a file named .git is kept",
	} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o640))
	}
	require.NoError(t, os.Symlink("testdata/in.txt", filepath.Join(dir, "link")))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "empty"), 0o700))

	files, st, err := treeFiles(dir, 1<<20)
	require.NoError(t, err)
	got := map[string]initramfs.File{}
	for _, f := range files {
		got[strings.TrimPrefix(f.Path, dir)] = f
	}
	assert.Equal(t, initramfs.File{Path: dir + "/testdata/in.txt", Mode: 0o640, Data: []byte("input")}, got["/testdata/in.txt"])
	assert.Equal(t, "testdata/in.txt", got["/link"].Symlink)
	assert.True(t, got["/empty"].Dir)
	assert.Equal(t, uint32(0o700), got["/empty"].Mode)
	assert.Contains(t, got, "/sub/.git")
	assert.NotContains(t, got, "/.git")
	assert.NotContains(t, got, "/.git/objects/ab")
	assert.True(t, got[""].Dir, "the directory itself: the program runs in it, empty or not")
	assert.Equal(t, len(files)-1, st.Files)

	_, _, err = treeFiles(dir, 100)
	var big *TreeTooBigError
	require.ErrorAs(t, err, &big)
	assert.ErrorContains(t, err, dir+" holds more than the 0.0 MiB exec copies into the guest")
	assert.ErrorContains(t, err, "raise --tree-limit")
}

// execSetup gives exec options with a fake backend, fake kernels and
// fake guest programs, and a program for arm64 in a project directory.
func execSetup(t *testing.T, script func(vm.Spec) vm.FakeScript) (ExecOptions, *vm.Fake) {
	t.Helper()
	m, err := matrix.Load("../../matrix.yaml", ksystest.Data)
	require.NoError(t, err)
	agents := t.TempDir()
	for _, a := range arch.All() {
		for _, p := range []string{guestbuild.Exec, guestbuild.PowerOff} {
			require.NoError(t, os.WriteFile(filepath.Join(agents, BinaryName(p, a.Go)), []byte(p), 0o755))
		}
	}
	project := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(project, "testdata"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(project, "testdata/in.txt"), []byte("input"), 0o644))
	prog := filepath.Join(project, "prog.test")
	fakeELF(t, prog, mustArch(t, "arm64"), "")
	var target matrix.Target
	for _, tg := range m.Targets.List {
		if tg.Name == "arm64-6.1" {
			target = tg
		}
	}
	fake := &vm.Fake{Script: script}
	return ExecOptions{
		Options: Options{Kernels: fakeKernels{}, Backend: fake, Agents: Prebuilt{Dir: agents}, Builtin: ksystest.Data, Accel: "tcg", TimeScale: 0.01},
		Target:  target, Program: prog, Args: []string{prog, "-test.v"}, Env: []string{"A=1"}, Dir: project,
		Timeout: time.Second,
	}, fake
}

func TestExecFiles(t *testing.T) {
	o, _ := execSetup(t, nil)
	g := &guest{target: o.Target, arch: mustArch(t, "arm64"), kernel: &kernel.Kernel{}}
	res := &ExecResult{}
	files, err := execFiles(context.Background(), &o, g, res)
	require.NoError(t, err)
	byPath := map[string]initramfs.File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	assert.Equal(t, "ksystest-exec", string(byPath["/init"].Data))
	assert.Equal(t, uint32(0o1777), byPath["/tmp"].Mode)
	assert.Equal(t, "input", string(byPath[o.Dir+"/testdata/in.txt"].Data))
	assert.Contains(t, byPath, o.Program, "the program, copied once with the directory")
	assert.Equal(t, 3, res.TreeFiles)
	var spec proto.ExecSpec
	require.NoError(t, json.Unmarshal(byPath[proto.ExecSpecPath].Data, &spec))
	assert.Equal(t, proto.ExecSpec{Version: proto.ExecVersion, Path: o.Program, Args: o.Args, Env: []string{"A=1"}, Dir: o.Dir}, spec)
	require.NoError(t, initramfs.WriteInitramfs(&bytes.Buffer{}, files))

	// A program outside the directory keeps its path; one where the
	// guest keeps its own files goes to /ksystest/bin.
	other := filepath.Join(t.TempDir(), "elsewhere")
	fakeELF(t, other, mustArch(t, "arm64"), "")
	for prog, want := range map[string]string{other: other, "/proc/self/exe": "/ksystest/bin/exe"} {
		o.Program, o.Dir = prog, ""
		files, err = execFiles(context.Background(), &o, g, res)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(files[len(files)-1].Data, &spec))
		assert.Equal(t, want, spec.Path)
		assert.Equal(t, "/", spec.Dir)
	}
	o.Dir = "/proc/1"
	_, err = execFiles(context.Background(), &o, g, res)
	assert.ErrorContains(t, err, "exec cannot copy /proc/1 into the guest")
}

func TestExec(t *testing.T) {
	var specs []vm.Spec
	o, fake := execSetup(t, func(s vm.Spec) vm.FakeScript {
		specs = append(specs, s)
		f := func(seq uint64, kind proto.FrameKind, data string) vm.FakeLine {
			return vm.FakeLine{Delay: 10 * time.Millisecond, Text: strings.TrimSpace(string(proto.EncodeFrame(proto.Frame{Seq: seq, Kind: kind, Data: []byte(data)})))}
		}
		return vm.FakeScript{Lines: []vm.FakeLine{
			{Text: "Linux version 6.1.0-test"},
			f(1, proto.FrameStart, `{"kernel":"6.1.0-test","machine":"aarch64","uptime_ns":1500000000}`),
			f(2, proto.FrameStdout, "--- PASS: TestX\n"),
			f(3, proto.FrameStderr, "a warning\n"),
			f(4, proto.FrameExit, `{"code":1,"uptime_ns":1600000000}`),
		}}
	})
	var stdout, stderr bytes.Buffer
	o.Streams = vm.ExecStreams{Stdout: &stdout, Stderr: &stderr}
	o.Start = time.Now().Add(-time.Second)
	res, err := Exec(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, vm.ExecExited, res.Outcome, res.Reason)
	assert.Equal(t, 1, res.Exit.Code)
	assert.Equal(t, "--- PASS: TestX\n", stdout.String())
	assert.Equal(t, "a warning\n", stderr.String())
	require.Len(t, fake.Started, 1)
	assert.Equal(t, "tcg", res.Accel)
	tm := res.Timings
	assert.GreaterOrEqual(t, tm.Prepare, time.Second, "from the given start")
	assert.Equal(t, tm.Prepare+tm.Boot, tm.FirstInstruction)
	assert.Equal(t, 1500*time.Millisecond, tm.GuestUptime)
	assert.Positive(t, tm.Run)
	assert.GreaterOrEqual(t, tm.Total, tm.FirstInstruction+tm.Run)

	o.Program = filepath.Join(t.TempDir(), "x86")
	fakeELF(t, o.Program, mustArch(t, "x86_64"), "")
	_, err = Exec(context.Background(), o)
	var pe *ProgramError
	require.ErrorAs(t, err, &pe)
	assert.ErrorContains(t, err, "built for x86_64, which arm64-6.1 guests do not run")

	o, _ = execSetup(t, nil)
	o.Kernels = fakeKernels{err: errors.New("no mirror")}
	_, err = Exec(context.Background(), o)
	assert.EqualError(t, err, "arm64-6.1: kernel: no mirror")
}

func TestFloor(t *testing.T) {
	for name, tc := range map[string]struct {
		lines  []string
		hang   bool
		reason string
	}{
		"powers off":         {lines: []string{"Linux version 6.1", "[    1.2] reboot: Power down"}},
		"panics":             {lines: []string{"Kernel panic - not syncing: Attempted to kill init!"}, reason: "kernel: Kernel panic"},
		"silent power off":   {lines: []string{"KASLR disabled: CPU has no PRNG"}}, // s390x prints nothing
		"does not power off": {lines: []string{"Linux version 6.1"}, hang: true, reason: "the guest did not power off within"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var initrd []byte
			o, _ := execSetup(t, func(s vm.Spec) vm.FakeScript {
				initrd, _ = os.ReadFile(s.Initrd)
				return vm.FakeScript{Lines: lines(tc.lines...), Hang: tc.hang}
			})
			took, err := Floor(context.Background(), o.Options, o.Target)
			assert.Contains(t, string(initrd), "ksystest-poweroff", "the trivial init")
			if tc.reason == "" {
				require.NoError(t, err)
				assert.Positive(t, took)
				return
			}
			var fe *FloorError
			require.ErrorAs(t, err, &fe)
			assert.Contains(t, fe.Reason, tc.reason)
			assert.NotEmpty(t, fe.Tail)
			assert.ErrorContains(t, err, fmt.Sprintf("boot floor of %s: ", o.Target.Name))
		})
	}
}
