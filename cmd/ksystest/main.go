// Command ksystest boots QEMU guests for each target of a matrix, runs
// BPF_KSYSCALL probes inside them, and reports whether each probe captured
// the arguments really passed. main only wires streams, signals and exit
// codes; the commands live in app.go and below.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ksystest/ksystest/harness/cache"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "ksystest: %s: stopping guests (again to kill)\n", s)
		cancel(fmt.Errorf("%s", s))
		<-sigs
		// No defers run from here: remove the scratch they would have.
		cache.RemoveLiveScratch()
		os.Exit(130)
	}()
	err := runMain(ctx, os.Args[1:], streams{out: os.Stdout, err: os.Stderr})
	os.Exit(exitCode(err, os.Stderr))
}
