// Command exectest is the program ksystest exec's VM tests and benchmark
// run in guests. Its first argument says what to do:
//
//	report CODE   print where it runs to stdout (working directory, uid,
//	              arguments, the copy's testdata/hello.txt, the mounts,
//	              a TCP connection on loopback) and a line to stderr,
//	              then exit with CODE
//	true          exit 0 at once
//	panic-kernel  make the kernel panic (sysrq c)
//	hang          print a line, then never exit
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: exectest report CODE | true | panic-kernel | hang")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "true":
	case "report":
		code, _ := strconv.Atoi(os.Args[2])
		report()
		fmt.Fprintln(os.Stderr, "exectest: to stderr")
		os.Exit(code)
	case "panic-kernel":
		fmt.Println("exectest: crashing the kernel")
		// What a program writes reaches the host a moment later, through
		// the init; the kernel's death would cut that short.
		time.Sleep(500 * time.Millisecond)
		if err := os.WriteFile("/proc/sysrq-trigger", []byte("c"), 0); err != nil {
			fmt.Fprintln(os.Stderr, "exectest:", err)
		}
		time.Sleep(time.Hour)
	case "hang":
		fmt.Println("exectest: hanging")
		for {
			time.Sleep(time.Hour) // select{} would be a deadlock the runtime ends
		}
	default:
		fmt.Fprintln(os.Stderr, "exectest: unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// loopback says whether a TCP connection to a listener on 127.0.0.1
// works.
func loopback() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

func report() {
	wd, _ := os.Getwd()
	exe, _ := os.Executable()
	fmt.Printf("cwd=%s\nuid=%d\nargs=%s\nexe=%s\n", wd, os.Getuid(), strings.Join(os.Args, " "), exe)
	if hello, err := os.ReadFile("testdata/hello.txt"); err == nil {
		fmt.Printf("hello=%s", hello)
	} else {
		fmt.Printf("hello: %v\n", err)
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "EXECTEST_") {
			fmt.Printf("env %s\n", kv)
		}
	}
	// What is mounted where, as the kernel says.
	mounts, _ := os.ReadFile("/proc/mounts")
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			fmt.Printf("mount %s %s\n", f[2], f[1])
		}
	}
	fmt.Printf("loopback=%v\n", loopback())
	var st syscall.Statfs_t
	if err := syscall.Statfs("/tmp", &st); err == nil {
		f, err := os.CreateTemp("", "exectest-")
		fmt.Printf("tmp writable=%v\n", err == nil)
		if err == nil {
			os.Remove(f.Name())
		}
	}
}
