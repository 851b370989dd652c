// Command ksystest-compat is the 32-bit helper of compat cases: built for
// GOARCH=386 (x86_64 guests) or arm (arm64 guests), started by the agent,
// it makes raw syscalls through the kernel's compat entry points. It
// speaks JSON lines: it sends a proto.CompatHello, then for each
// proto.Case it reads, makes the call and sends a proto.CaseResult.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"

	"github.com/ksystest/ksystest/harness/guest/trigger"
	"github.com/ksystest/ksystest/harness/proto"
)

func main() {
	if err := serve(); err != nil {
		fmt.Fprintln(os.Stderr, "ksystest-compat:", err)
		os.Exit(1)
	}
}

func serve() error {
	thread := trigger.NewThread()
	res := &trigger.GuestResources{}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(proto.CompatHello{TID: thread.TID, GOARCH: runtime.GOARCH}); err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var c proto.Case
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			return fmt.Errorf("read case: %w", err)
		}
		r := proto.CaseResult{Name: c.Name}
		call, err := trigger.Issue(thread, c, res)
		if err != nil {
			r.Error = err.Error()
		}
		r.Passed, r.Regs, r.NArgs, r.NR, r.Ret, r.Errno, r.Contents = call.Passed, call.Regs, call.NArgs, call.NR, call.Ret, call.Errno, call.Contents
		if err := out.Encode(r); err != nil {
			return err
		}
	}
	return in.Err()
}
