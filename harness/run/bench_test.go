package run

import (
	"context"
	"testing"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/sysparams"
)

// BenchmarkVMCell boots one real guest per iteration (kernel from the
// cache) and reports the phases as metrics: QEMU start to agent start, to
// done, to QEMU exit.
//
//	go test -run '^$' -bench VMCell -benchtime 3x ./harness/run
func BenchmarkVMCell(b *testing.B) {
	for _, archName := range []string{"x86_64", "arm64", "s390x"} {
		b.Run(archName, func(b *testing.B) {
			o := vmOptions(b, "", "", archName)
			o.Logf = nil
			var agent, done, exit float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := Run(context.Background(), o)
				if err != nil || res.Cells[0].Outcome != result.OutcomePass {
					b.Fatalf("cell did not pass: %v %+v", err, res.Cells[0])
				}
				tm := res.Cells[0].Timings
				agent += tm.AgentStartSec
				done += tm.DoneSec
				exit += tm.ExitSec
			}
			n := float64(b.N)
			b.ReportMetric(agent/n, "s-to-agent")
			b.ReportMetric(done/n, "s-to-done")
			b.ReportMetric(exit/n, "s-to-exit")
		})
	}
}

// BenchmarkVMMatrix runs the whole default matrix (2 jobs) per iteration.
func BenchmarkVMMatrix(b *testing.B) {
	o := vmOptions(b, "", "")
	o.Logf = nil
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), o)
		if err != nil || res.ExitCode() != 0 {
			b.Fatalf("matrix did not pass: %v", err)
		}
		b.ReportMetric(res.WallSec, "s-wall")
	}
}

// BenchmarkInitramfs measures writing a guest's initramfs (the ~4 MB agent
// and the catalogue), done once per cell.
func BenchmarkInitramfs(b *testing.B) {
	o := vmOptions(b, "", "", "arm64")
	a, err := arch.Lookup(o.Targets[0].Arch)
	if err != nil {
		b.Fatal(err)
	}
	path := b.TempDir() + "/initramfs.cpio"
	g := &guest{arch: a, kernel: &kernel.Kernel{}, planned: o.Catalogue.Plan(a, sysparams.Kernel{})}
	write := func() error {
		files, err := g.files(context.Background(), &o)
		if err != nil {
			return err
		}
		return writeArchive(path, files)
	}
	if err := write(); err != nil { // builds the agent once
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := write(); err != nil {
			b.Fatal(err)
		}
	}
}
