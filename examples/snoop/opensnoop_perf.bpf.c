// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * opensnoop_perf: opensnoop for kernels without BPF ring buffers (before
 * 5.8), written as libbpf-tools write it: the entry probe keeps the
 * arguments by thread, the exit probe adds the result and writes the
 * record to a perf buffer, copying the path then. BPF_ANY and
 * BPF_F_CURRENT_CPU by value: the vmlinux.h of a kernel as old as 5.4
 * (built against each kernel's own) does not have them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "snoop.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile pid_t targ_tgid = 0;

struct args_t {
	const char *fname;
	int dfd;
	int flags;
	__u32 mode;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

/* The record is too big for the stack: one per CPU, in a map. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_event);
} heap SEC(".maps");

SEC("ksyscall/openat")
int BPF_KSYSCALL(openat_entry, int dfd, const char *filename, int flags, umode_t mode)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args_t args = {};

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	args.fname = filename;
	args.dfd = dfd;
	args.flags = flags;
	args.mode = mode;
	bpf_map_update_elem(&start, &tid, &args, 0 /* BPF_ANY */);
	return 0;
}

SEC("kretsyscall/openat")
int BPF_KRETPROBE(openat_exit, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	struct args_t *ap;
	struct open_event *e;

	ap = bpf_map_lookup_elem(&start, &tid);
	if (!ap)
		return 0;
	e = bpf_map_lookup_elem(&heap, &zero);
	if (!e)
		goto cleanup;
	e->pid = id >> 32;
	e->tid = tid;
	e->ret = ret;
	e->dfd = ap->dfd;
	e->flags = ap->flags;
	e->mode = ap->mode;
	bpf_probe_read_user_str(e->path, sizeof(e->path), ap->fname);
	bpf_perf_event_output(ctx, &events, 0xffffffffULL /* BPF_F_CURRENT_CPU */, e, sizeof(*e));
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}
