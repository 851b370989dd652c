// SPDX-License-Identifier: GPL-2.0
/*
 * A user's probe with a bug ksystest must catch: it stores prctl's third
 * argument where its config says the second is. Its own license string,
 * names and globals load beside ksystest's own probes without a clash.
 */
#include "regs.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

unsigned long seen_option;
unsigned long seen_arg2;
unsigned long seen_arg3;

const volatile int filter_pid = 0;

SEC("ksyscall/prctl")
int BPF_KSYSCALL(prctl_wrong, int option, unsigned long arg2, unsigned long arg3)
{
	if ((int)(bpf_get_current_pid_tgid() >> 32) != filter_pid)
		return 0;
	seen_option = option;
	seen_arg2 = arg3; /* the bug */
	seen_arg3 = arg3;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
