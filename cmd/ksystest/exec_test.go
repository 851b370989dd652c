package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/run"
	"github.com/ksystest/ksystest/harness/vm"
)

func TestPickTarget(t *testing.T) {
	m, err := matrix.LoadBuiltin(ksystest.Data)
	require.NoError(t, err)
	prog := func(archName string) *run.Program {
		a, err := arch.Lookup(archName)
		require.NoError(t, err)
		return &run.Program{Path: "./prog", Arch: a}
	}
	for _, tc := range []struct {
		arch, target, want string
	}{
		{"arm64", "", "arm64-5.10"}, // the matrix's first arm64 target
		{"arm64", "6.1", "arm64-6.1"},
		{"s390x", "6.12", "s390x-6.12"},
		{"s390x", "s390x-6.1", "s390x-6.1"},
		{"i386", "x86_64-6.1", "x86_64-6.1"}, // a compat program
		{"arm", "arm64-6.12", "arm64-6.12"},
		{"riscv64", "", "riscv64-6.12"},
	} {
		got, err := pickTarget(m, tc.target, prog(tc.arch))
		require.NoError(t, err, "%s --target %q", tc.arch, tc.target)
		assert.Equal(t, tc.want, got.Name, "%s --target %q", tc.arch, tc.target)
	}

	_, err = pickTarget(m, "4.19", prog("arm64"))
	assert.EqualError(t, err, "--target 4.19: ksystest's matrix.yaml has no target 4.19 nor arm64-4.19 (arm64 targets: arm64-5.10, arm64-6.1, arm64-6.12)")
	_, err = pickTarget(m, "arm64-6.1", prog("x86_64"))
	var pe *run.ProgramError
	require.ErrorAs(t, err, &pe)
	assert.EqualError(t, err, "./prog: built for x86_64, which arm64-6.1 guests do not run")
	_, err = pickTarget(m, "5.10", prog("s390x"))
	assert.ErrorContains(t, err, "(s390x targets: s390x-6.1, s390x-6.12)")
}

func TestGoTestTimeout(t *testing.T) {
	for args, want := range map[string]time.Duration{
		"":                                    run.DefaultExecTimeout,
		"-test.v -test.timeout=10m0s":         11 * time.Minute,
		"-test.timeout 30s -test.run X":       90 * time.Second,
		"--test.timeout=1h":                   time.Hour + time.Minute,
		"-test.timeout=0s":                    math.MaxInt64,
		"-test.timeout=soon":                  run.DefaultExecTimeout,
		"-test.timeoutx=1s -test.run=timeout": run.DefaultExecTimeout,
	} {
		assert.Equal(t, want, goTestTimeout(strings.Fields(args)), args)
	}
}

func TestEnvFlag(t *testing.T) {
	t.Setenv("KSYSTEST_TEST_HOST", "from the host")
	var e envFlag
	require.NoError(t, e.Set("A=1"))
	require.NoError(t, e.Set("KSYSTEST_TEST_HOST"))
	require.NoError(t, e.Set("B="))
	assert.Error(t, e.Set("=x"))
	assert.Equal(t, envFlag{"A=1", "KSYSTEST_TEST_HOST=from the host", "B="}, e)

	t.Setenv("GOTRACEBACK", "all")
	env := execEnv(e)
	assert.Equal(t, run.ExecBaseEnv, env[:len(run.ExecBaseEnv)])
	assert.Contains(t, env, "GOTRACEBACK=all")
	assert.Equal(t, "B=", env[len(env)-1], "--env last, so it wins")
}

func TestExecOutcome(t *testing.T) {
	res := func(o vm.ExecOutcome, exit proto.ExecExit) *run.ExecResult {
		return &run.ExecResult{Target: "arm64-6.1", ExecWatch: &vm.ExecWatch{Outcome: o, Reason: "why", Exit: exit, Tail: []string{"Kernel panic - not syncing"}}}
	}
	for _, tc := range []struct {
		res  *run.ExecResult
		code int
		tail bool
	}{
		{res(vm.ExecExited, proto.ExecExit{Code: 0}), 0, false},
		{res(vm.ExecExited, proto.ExecExit{Code: 7}), 7, false},
		{res(vm.ExecExited, proto.ExecExit{Code: -1, Signal: 9}), 137, false},
		{res(vm.ExecNotRun, proto.ExecExit{}), execCannotRun, false},
		{res(vm.ExecCrash, proto.ExecExit{}), execCrash, true},
		{res(vm.ExecTimeout, proto.ExecExit{}), execTimeout, true},
		{res(vm.ExecChannelError, proto.ExecExit{}), execFailed, true},
		{res(vm.ExecInterrupted, proto.ExecExit{}), execInterrupted, false},
	} {
		var stderr bytes.Buffer
		err := execOutcome(tc.res, &stderr)
		assert.Equal(t, tc.code, exitCode(err, &stderr), "%s %+v", tc.res.Outcome, tc.res.Exit)
		assert.Equal(t, tc.tail, bytes.Contains(stderr.Bytes(), []byte("  Kernel panic")), "%s: console tail", tc.res.Outcome)
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int{"512": 512, "512M": 512, "512m": 512, "512MB": 512, "2G": 2048, "1g": 1024, "64G": 65536} {
		got, err := parseMemory(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, in := range []string{"", "lots", "-1G", "0", "127M", "65G", "1.5G", "2T", "99999999999999999999G"} {
		_, err := parseMemory(in)
		assert.Error(t, err, in)
	}
}
