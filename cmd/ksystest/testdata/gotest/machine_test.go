package gotest

import (
	"debug/elf"
	"os"
	"os/exec"
	"os/user" // with cgo on, the C library's getpwuid: the test binary is dynamically linked
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGuestMachine passes only in a guest that is a small real machine,
// as ksystest exec gives one: several CPUs, a host name, cgroup2, tmpfs
// on /dev/shm and /run, a shell and busybox's applets, bash, the
// module's shared testdata one directory up, a writable root, root in
// /etc/passwd, clang and llvm-strip building a BPF object (as bpf2go
// does), and the modules GOTEST_MODULES names loaded with their BTF.
// With GOTEST_DYNAMIC set, it checks it was linked dynamically (go
// test with cgo on) and so ran with the host's loader and libraries.
func TestGuestMachine(t *testing.T) {
	if n := runtime.NumCPU(); n < 2 {
		t.Errorf("%d CPUs, want 2 or more", n)
	}
	if h, err := os.Hostname(); err != nil || h != "ksystest" {
		t.Errorf("host name %q (%v), want ksystest", h, err)
	}
	for path, magic := range map[string]int64{"/sys/fs/cgroup": unix.CGROUP2_SUPER_MAGIC, "/dev/shm": unix.TMPFS_MAGIC, "/run": unix.TMPFS_MAGIC} {
		var st unix.Statfs_t
		if err := unix.Statfs(path, &st); err != nil {
			t.Errorf("statfs %s: %v", path, err)
		} else if int64(st.Type) != magic {
			t.Errorf("%s: filesystem %#x, want %#x", path, st.Type, magic)
		}
	}
	for _, cmd := range [][]string{{"sh", "-c", "echo sh"}, {"/bin/bash", "-c", "echo bash"}, {"sh", "-c", "command -v modprobe ip mount"}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v: %s", strings.Join(cmd, " "), err, out)
		}
	}
	data, err := os.ReadFile("../shared.txt")
	if err != nil || string(data) != "the module's shared testdata\n" {
		t.Errorf("../shared.txt: %q, %v", data, err)
	}
	if err := os.WriteFile("/etc/ksystest-gotest", []byte("x"), 0o644); err != nil {
		t.Errorf("the root is not writable: %v", err)
	}
	if u, err := user.Current(); err != nil || u.Username != "root" || u.HomeDir != "/root" {
		t.Errorf("user.Current: %+v, %v; want root, at home in /root", u, err)
	}
	src, obj := t.TempDir()+"/probe.c", t.TempDir()+"/probe.o"
	if err := os.WriteFile(src, []byte("#include <stddef.h>\n__attribute__((section(\"socket\"), used)) int prog(void *ctx) { return sizeof(size_t); }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"clang", "-target", "bpfel", "-O2", "-g", "-c", src, "-o", obj}, {"llvm-strip", "-g", obj}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v: %s", strings.Join(cmd, " "), err, out)
		}
	}
	if f, err := elf.Open(obj); err != nil {
		t.Errorf("clang's object: %v", err)
	} else {
		if f.Machine != elf.EM_BPF || f.Section("socket") == nil || f.Section(".debug_info") != nil {
			t.Errorf("clang's object: machine %v, socket section %v, debug info %v; want BPF, a socket section, stripped",
				f.Machine, f.Section("socket") != nil, f.Section(".debug_info") != nil)
		}
		f.Close()
	}
	for _, m := range strings.FieldsFunc(os.Getenv("GOTEST_MODULES"), func(r rune) bool { return r == ',' }) {
		for _, p := range []string{"/sys/module/" + m, "/sys/kernel/btf/" + m} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("module %s: %v", m, err)
			}
		}
	}
	if os.Getenv("GOTEST_DYNAMIC") != "" {
		f, err := elf.Open("/proc/self/exe")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dynamic := false
		for _, p := range f.Progs {
			dynamic = dynamic || p.Type == elf.PT_INTERP
		}
		if !dynamic {
			t.Error("the test binary is static; GOTEST_DYNAMIC wants it dynamically linked")
		}
	}
}
