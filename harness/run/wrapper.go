package run

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/vm"
)

// checkWrapper compares the four sources on the syscall wrapper: the
// matrix, the kernel's config, the guest's symbols and the loader's
// resolved value. The kernel's sources must agree with the matrix or the
// cell fails. The loader may be wrong where ksystest predicts it, from the
// symbol it looks for (arch.LoaderPrefix): that is a finding about the
// loader, and the cases it spoils are judged against it (LoaderWrong).
func checkWrapper(t matrix.Target, a arch.Arch, k *kernel.Kernel, w *vm.Watch) *result.Wrapper {
	wr := &result.Wrapper{Declared: *t.SyscallWrapper}
	if v, err := k.ConfigValue("ARCH_HAS_SYSCALL_WRAPPER"); err == nil {
		wr.Config = ptr(v == "y")
	}
	guestLabel := "guest kallsyms (" + a.SyscallPrefix + "sys_bpf)"
	if a.SyscallPrefix == "" {
		// The wrapper's entry points are sys_NAME themselves; without it,
		// sys_NAME is an alias of a global __se_sys_NAME.
		guestLabel = "guest kallsyms (no __se_sys_bpf)"
	}
	for _, ev := range w.Events {
		if ev.Type != proto.EventLoaded || ev.Loaded == nil {
			continue
		}
		gw := ev.Loaded.Wrapper
		wr.Symbols, wr.ResolvedBy = gw.Symbols, gw.ResolvedBy
		// No symbols (nil, not empty) is kallsyms unread: unknown, not no.
		if gw.Symbols != nil {
			if a.SyscallPrefix == "" {
				wr.Guest = ptr(!slices.Contains(gw.Symbols, "__se_sys_bpf"))
			} else {
				wr.Guest = ptr(slices.Contains(gw.Symbols, a.SyscallPrefix+"sys_bpf"))
			}
			wr.LoaderPredicted = ptr(slices.Contains(gw.Symbols, a.LoaderPrefix+"sys_bpf"))
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
	}{{"kernel config", wr.Config}, {guestLabel, wr.Guest}, {"loader's LINUX_HAS_SYSCALL_WRAPPER", wr.Loader}} {
		if src.v == nil {
			says = append(says, src.name+" unknown")
			continue
		}
		says = append(says, src.name+" "+yesNo(*src.v))
		if *src.v != wr.Declared {
			wr.Agree = false
		}
	}
	if !wr.Agree && wr.Loader != nil && wr.LoaderPredicted != nil && *wr.Loader == *wr.LoaderPredicted &&
		*wr.Loader != wr.Declared && sameBool(wr.Config, wr.Declared) && sameBool(wr.Guest, wr.Declared) {
		wr.Agree, wr.LoaderWrong = true, true
		wr.Note = fmt.Sprintf("the loader resolves LINUX_HAS_SYSCALL_WRAPPER to %s: it looks for %ssys_bpf, which this kernel does not have",
			yesNo(*wr.Loader), a.LoaderPrefix)
	}
	if !wr.Agree {
		wr.Note = fmt.Sprintf("syscall wrapper: the matrix declares %s, but %s", yesNo(wr.Declared), strings.Join(says, ", "))
	}
	return wr
}

func sameBool(v *bool, want bool) bool { return v != nil && *v == want }

// loaderPrediction is what a probe built with BPF_KSYSCALL sees where the
// loader resolved LINUX_HAS_SYSCALL_WRAPPER wrongly: the wrong pt_regs.
// Aware probes must not fall for it, and a prediction the catalogue states
// about the call itself (never fires, a pointer, no load) stands.
func loaderPrediction(p *matrix.Planned, section string, wr *result.Wrapper) {
	if wr == nil || !wr.LoaderWrong || p.Role == matrix.RoleAware || !strings.HasPrefix(section, "ksyscall/") {
		return
	}
	if p.Pred != nil && len(p.Pred.Swap) == 0 {
		return
	}
	p.Pred = &matrix.Prediction{LoaderWrapper: true, Why: wr.Note}
}

func ptr[T any](v T) *T { return &v }
