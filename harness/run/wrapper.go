package run

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/image"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/vm"
)

// checkWrapper compares the four sources on the syscall wrapper: the
// matrix, the kernel's config, the guest's symbols and the loader's
// resolved value. A source that disagrees with the matrix fails the cell.
func checkWrapper(cell *result.Cell, t matrix.Target, a arch.Arch, k *image.Kernel, w *vm.Watch) {
	wr := &result.Wrapper{Declared: *t.SyscallWrapper}
	if v, err := k.ConfigValue("ARCH_HAS_SYSCALL_WRAPPER"); err == nil {
		wr.Config = ptr(v == "y")
	}
	for _, ev := range w.Events {
		if ev.Type != proto.EventLoaded || ev.Loaded == nil {
			continue
		}
		gw := ev.Loaded.Wrapper
		wr.Symbols, wr.ResolvedBy = gw.Symbols, gw.ResolvedBy
		if gw.Symbols != nil || gw.ReadError == "" {
			wr.Guest = ptr(slices.Contains(gw.Symbols, a.SyscallPrefix+"sys_bpf"))
		}
		if gw.Loader != nil {
			wr.Loader = ptr(*gw.Loader != 0)
		}
	}
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	var says []string
	wr.Agree = true
	for _, src := range []struct {
		name string
		v    *bool
	}{{"kernel config", wr.Config}, {"guest kallsyms (" + a.SyscallPrefix + "sys_bpf)", wr.Guest}, {"loader's LINUX_HAS_SYSCALL_WRAPPER", wr.Loader}} {
		if src.v == nil {
			says = append(says, src.name+" unknown")
			continue
		}
		says = append(says, src.name+" "+yesNo(*src.v))
		if *src.v != wr.Declared {
			wr.Agree = false
		}
	}
	cell.Wrapper = wr
	if !wr.Agree && (cell.Outcome == result.OutcomePass || cell.Outcome == result.OutcomeFail) {
		cell.Outcome = result.OutcomeFail
		cell.Reason = fmt.Sprintf("syscall wrapper: the matrix declares %s, but %s", yesNo(wr.Declared), strings.Join(says, ", "))
	}
}

func ptr[T any](v T) *T { return &v }
