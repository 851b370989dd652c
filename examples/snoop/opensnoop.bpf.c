// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * opensnoop: every openat of one process, as a record in a ring buffer
 * its user space reads, the path copied with bpf_probe_read_user_str.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "snoop.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The process to watch (0: every process), set before loading. */
const volatile pid_t targ_tgid = 0;

/*
 * By number: the vmlinux.h of a kernel before 5.8 has no
 * BPF_MAP_TYPE_RINGBUF, and the tool is built against each kernel's own;
 * such a kernel refuses the map when the tool loads.
 */
#define RINGBUF 27

struct {
	__uint(type, RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Keeps struct event in the object's BTF, for user space to read records by. */
const struct event *unused_event __attribute__((unused));

SEC("ksyscall/openat")
int BPF_KSYSCALL(trace_openat, int dfd, const char *filename, int flags, umode_t mode)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (targ_tgid && pid != targ_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->dfd = dfd;
	e->flags = flags;
	e->mode = mode;
	bpf_probe_read_user_str(e->path, sizeof(e->path), filename);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
