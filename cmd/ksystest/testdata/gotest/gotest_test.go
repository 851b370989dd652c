// Package gotest is a test package ksystest exec's VM tests run with
// go test -exec: one test that passes only as root in a guest, with its
// testdata, and one that fails on purpose.
package gotest

import (
	"os"
	"testing"
)

func TestInGuest(t *testing.T) {
	data, err := os.ReadFile("testdata/input.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "read in the guest\n" {
		t.Fatalf("testdata/input.txt holds %q", data)
	}
	if os.Getuid() != 0 {
		t.Fatalf("uid %d, want root", os.Getuid())
	}
	if _, err := os.Stat("/sys/fs/bpf"); err != nil {
		t.Fatal(err)
	}
	t.Log("ran as root with its testdata")
}

func TestFails(t *testing.T) {
	t.Fatal("this test fails on purpose")
}
