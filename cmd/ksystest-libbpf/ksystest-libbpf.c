// SPDX-License-Identifier: MIT
/*
 * ksystest-libbpf loads a BPF object with libbpf, exactly as the libbpf it
 * is linked with does it, so that ksystest's verdicts hold for the loader
 * users run. The guest agent runs it and talks to it over stdin/stdout:
 *
 *   ksystest-libbpf [--btf PATH] [--rodata OFFSET:HEXBYTES ...]
 *                   [--log-level N] [--deny-kprobe SYMBOL] OBJECT.o
 *   ksystest-libbpf --version
 *
 * It opens OBJECT.o, patches the .rodata map's initial value, loads the
 * object and prints one line of JSON on stdout:
 *
 *   {"libbpf":"1.5","package":"libbpf-dev 1:1.5.0-3","error":"",
 *    "maps":{"NAME":ID,...},"progs":{"NAME":{"id":ID,"section":"SEC"},...}}
 *
 * "package" is the Debian package the binary was linked from (the build
 * passes it in: libbpf's own API says only "1.5"). "error" is empty on
 * success; on failure maps and progs are empty and the program exits 1 (2
 * for bad arguments). After a successful load it reads commands, one a
 * line, and answers each with one line:
 *
 *   attach PROG   bpf_program__attach(): libbpf's own auto-attach
 *   detach PROG   bpf_link__destroy()
 *
 * with "ok" or "error: MESSAGE". At end of input it destroys every link,
 * closes the object and exits 0. libbpf's whole log (debug level included,
 * verifier logs too) goes to stderr.
 *
 * --deny-kprobe SYMBOL is a test hook: libbpf's attempts to create a kprobe
 * on SYMBOL fail with ENOENT, as if the kernel had no such function.
 * Denying __x64_sys_bpf on an x86_64 kernel makes libbpf decide that the
 * kernel has no syscall wrapper (LINUX_HAS_SYSCALL_WRAPPER = 0): a test
 * can make it wrong on purpose. The build links with --wrap for the libc
 * functions through which libbpf 1.1 and 1.5, as Debian builds them,
 * create kprobes: syscall(), for perf_event_open on the kprobe PMU; and,
 * where the kernel has no such PMU, for the "p:..." line written to
 * tracefs's kprobe_events, write() (1.5) or vdprintf(), which
 * _FORTIFY_SOURCE turns into __vdprintf_chk() (1.1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/perf_event.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* Which Debian package the binary was linked from; the build sets it. */
#ifndef KSYSTEST_LIBBPF_PACKAGE
#define KSYSTEST_LIBBPF_PACKAGE ""
#endif

enum { MAX_PATCHES = 64, MAX_PATCH_BYTES = 4096, MAX_LINE = 512, MAX_MSG = 1024 };

struct patch {
	size_t off, len;
	unsigned char *data;
};

/*
 * The warnings libbpf gave during one operation (open, load, an attach),
 * the first line of each, joined with "; ": the first usually names the
 * cause, the later ones what failed because of it. Single-threaded.
 */
static char warnings[MAX_MSG];

/*
 * The --deny-kprobe hook. The build links with
 * -Wl,--wrap=syscall,--wrap=write,--wrap=__vdprintf_chk, so the calls of
 * these that libbpf.a makes come here first; without the option each
 * passes straight through.
 */
static const char *deny_kprobe;

long __real_syscall(long number, ...);
long __wrap_syscall(long number, ...);
ssize_t __real_write(int fd, const void *buf, size_t count);
ssize_t __wrap_write(int fd, const void *buf, size_t count);
int __real___vdprintf_chk(int fd, int flag, const char *fmt, va_list args);
int __wrap___vdprintf_chk(int fd, int flag, const char *fmt, va_list args);

/* kprobe_pmu_type is the perf type of the kprobe PMU, read where libbpf
 * reads it (determine_kprobe_perf_type); -1 when the kernel has none. */
static int kprobe_pmu_type(void)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = open("/sys/bus/event_source/devices/kprobe/type", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return (int)strtol(buf, NULL, 10);
}

static void denied(const char *how)
{
	fprintf(stderr, "ksystest-libbpf: --deny-kprobe: refused a kprobe on %s (%s)\n",
		deny_kprobe, how);
	errno = ENOENT;
}

/* A kprobe through the PMU names its function in config1 (libbpf's
 * perf_event_open_probe: attr.config1 = the name, config2 = the offset). */
static bool denied_perf_event(const struct perf_event_attr *attr)
{
	int type;

	if (!attr || !attr->config1)
		return false;
	type = kprobe_pmu_type();
	return type >= 0 && attr->type == (__u32)type &&
	       strcmp((const char *)(uintptr_t)attr->config1, deny_kprobe) == 0;
}

/* A legacy kprobe is the line "p:GROUP/EVENT SYMBOL+0xOFFSET" (r: for a
 * kretprobe) appended to tracefs's kprobe_events (libbpf's
 * add_kprobe_event_legacy). */
static bool denied_kprobe_event(const char *buf, size_t n)
{
	char needle[256];
	int len;

	if (n < 2 || (buf[0] != 'p' && buf[0] != 'r') || buf[1] != ':')
		return false;
	len = snprintf(needle, sizeof(needle), " %s+", deny_kprobe);
	return len > 0 && (size_t)len < sizeof(needle) && memmem(buf, n, needle, (size_t)len);
}

/* __wrap_syscall forwards six arguments, as glibc's own syscall() reads
 * them: the kernel takes no more. */
long __wrap_syscall(long number, ...)
{
	long a[6];
	va_list args;
	int i;

	va_start(args, number);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(args, long);
	va_end(args);
	if (deny_kprobe && number == __NR_perf_event_open &&
	    denied_perf_event((const struct perf_event_attr *)(uintptr_t)a[0])) {
		denied("perf_event_open");
		return -1;
	}
	return __real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* libbpf 1.5 writes a legacy kprobe's line with write(). */
ssize_t __wrap_write(int fd, const void *buf, size_t count)
{
	if (deny_kprobe && denied_kprobe_event(buf, count)) {
		denied("kprobe_events");
		return -1;
	}
	return __real_write(fd, buf, count);
}

/* libbpf 1.1 writes it with vdprintf(), built with _FORTIFY_SOURCE. */
int __wrap___vdprintf_chk(int fd, int flag, const char *fmt, va_list args)
{
	char line[512];
	va_list copy;
	int n;

	if (deny_kprobe) {
		va_copy(copy, args);
		n = vsnprintf(line, sizeof(line), fmt, copy);
		va_end(copy);
		if (n > 0 && denied_kprobe_event(line, strnlen(line, sizeof(line)))) {
			denied("kprobe_events");
			return -1;
		}
	}
	return __real___vdprintf_chk(fd, flag, fmt, args);
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[MAX_MSG];
	const char *text = line;
	size_t used;
	va_list copy;

	if (level == LIBBPF_WARN) {
		va_copy(copy, args);
		vsnprintf(line, sizeof(line), fmt, copy);
		va_end(copy);
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(text, "libbpf: ", 8) == 0)
			text += 8;
		used = strlen(warnings);
		/* Cut short when full (snprintf's result is checked, so that
		 * the compiler knows the cut is meant). */
		if (snprintf(warnings + used, sizeof(warnings) - used, "%s%s",
			     used ? "; " : "", text) < 0)
			warnings[used] = '\0';
	}
	return vfprintf(stderr, fmt, args);
}

/* describe writes "what: ERROR[: libbpf's warnings]" to buf; ERROR is
 * strerror(err), or libbpf's text for its own codes (4000 and up). */
static void describe(char *buf, size_t size, const char *what, int err)
{
	char text[128];

	libbpf_strerror(err, text, sizeof(text));
	if (warnings[0] != '\0')
		snprintf(buf, size, "%s: %s: %s", what, text, warnings);
	else
		snprintf(buf, size, "%s: %s", what, text);
}

/* put_json_string writes s as a JSON string. Bytes from 0x80 up pass
 * through: names come from the object, and decoders tolerate bad UTF-8. */
static void put_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void put_result(const char *error, struct bpf_object *obj)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	const char *sep;

	printf("{\"libbpf\":\"%u.%u\",\"package\":", libbpf_major_version(), libbpf_minor_version());
	put_json_string(KSYSTEST_LIBBPF_PACKAGE);
	printf(",\"error\":");
	put_json_string(error);
	printf(",\"maps\":{");
	sep = "";
	if (obj) {
		bpf_object__for_each_map(map, obj) {
			struct bpf_map_info info = {0};
			__u32 len = sizeof(info);

			/* bpf_obj_get_info_by_fd: the typed variants came in 1.2. */
			if (bpf_map__fd(map) < 0 || bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len))
				continue;
			printf("%s", sep);
			put_json_string(bpf_map__name(map));
			printf(":%u", info.id);
			sep = ",";
		}
	}
	printf("},\"progs\":{");
	sep = "";
	if (obj) {
		bpf_object__for_each_program(prog, obj) {
			struct bpf_prog_info info = {0};
			__u32 len = sizeof(info);

			if (bpf_program__fd(prog) < 0 ||
			    bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
				continue;
			printf("%s", sep);
			put_json_string(bpf_program__name(prog));
			printf(":{\"id\":%u,\"section\":", info.id);
			put_json_string(bpf_program__section_name(prog));
			putchar('}');
			sep = ",";
		}
	}
	printf("}}\n");
	fflush(stdout);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* parse_patch reads OFFSET:HEXBYTES (OFFSET decimal or 0x hex). */
static int parse_patch(const char *arg, struct patch *p, char *msg, size_t size)
{
	const char *hex;
	char *end;
	size_t i, n;

	errno = 0;
	p->off = strtoull(arg, &end, 0);
	if (errno || end == arg || *end != ':' || arg[0] == '-') {
		snprintf(msg, size, "--rodata %s: want OFFSET:HEXBYTES", arg);
		return -1;
	}
	hex = end + 1;
	n = strlen(hex);
	if (n == 0 || n % 2 || n / 2 > MAX_PATCH_BYTES) {
		snprintf(msg, size, "--rodata %s: want an even number of hex digits, 2 to %d",
			 arg, 2 * MAX_PATCH_BYTES);
		return -1;
	}
	p->len = n / 2;
	p->data = malloc(p->len);
	if (!p->data) {
		snprintf(msg, size, "--rodata %s: out of memory", arg);
		return -1;
	}
	for (i = 0; i < p->len; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(msg, size, "--rodata %s: %c%c is not a hex byte", arg,
				 hex[2 * i], hex[2 * i + 1]);
			return -1;
		}
		p->data[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* patch_rodata applies the patches to a copy of .rodata's initial value. */
static int patch_rodata(struct bpf_object *obj, const struct patch *patches, int n,
			char *msg, size_t size)
{
	struct bpf_map *map;
	const void *init;
	unsigned char *value;
	size_t vsize;
	int i, err;

	if (n == 0)
		return 0;
	/* A name with a leading dot matches the ELF section, not the map name
	 * (which carries a prefix of the object's name). */
	map = bpf_object__find_map_by_name(obj, ".rodata");
	init = map ? bpf_map__initial_value(map, &vsize) : NULL;
	if (!init) {
		snprintf(msg, size, "--rodata: the object has no .rodata map");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (patches[i].off > vsize || patches[i].len > vsize - patches[i].off) {
			snprintf(msg, size, "--rodata: %zu bytes at offset %zu: .rodata has %zu bytes",
				 patches[i].len, patches[i].off, vsize);
			return -1;
		}
	}
	value = malloc(vsize);
	if (!value) {
		snprintf(msg, size, "--rodata: out of memory");
		return -1;
	}
	memcpy(value, init, vsize);
	for (i = 0; i < n; i++)
		memcpy(value + patches[i].off, patches[i].data, patches[i].len);
	warnings[0] = '\0';
	err = bpf_map__set_initial_value(map, value, vsize);
	free(value);
	if (err) {
		describe(msg, size, "set .rodata", -err);
		return -1;
	}
	return 0;
}

/* links[i] is the link of the i-th program, in bpf_object order. */
static struct bpf_link **links;

static int prog_index(struct bpf_object *obj, const char *name, struct bpf_program **out)
{
	struct bpf_program *prog;
	int i = 0;

	bpf_object__for_each_program(prog, obj) {
		if (strcmp(bpf_program__name(prog), name) == 0) {
			*out = prog;
			return i;
		}
		i++;
	}
	return -1;
}

static void answer(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	putchar('\n');
	fflush(stdout);
}

/* shown copies s for an answer, control and non-ASCII bytes as '?'. */
static const char *shown(const char *s)
{
	static char buf[MAX_LINE];
	size_t i;

	for (i = 0; s[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static void command(struct bpf_object *obj, char *line)
{
	char msg[MAX_MSG + 256];
	struct bpf_program *prog;
	struct bpf_link *link;
	char *name;
	int i, err;
	bool attach;

	name = strchr(line, ' ');
	if (!name) {
		answer("error: want \"attach PROG\" or \"detach PROG\"");
		return;
	}
	*name++ = '\0';
	if (strcmp(line, "attach") == 0) {
		attach = true;
	} else if (strcmp(line, "detach") == 0) {
		attach = false;
	} else {
		answer("error: unknown command \"%s\"", shown(line));
		return;
	}
	i = prog_index(obj, name, &prog);
	if (i < 0) {
		answer("error: no program \"%s\"", shown(name));
	} else if (attach && links[i]) {
		answer("error: %s is attached already", shown(name));
	} else if (attach) {
		warnings[0] = '\0';
		errno = 0;
		link = bpf_program__attach(prog);
		if (!link) {
			describe(msg, sizeof(msg), "attach", errno ? errno : EINVAL);
			answer("error: %s", msg);
			return;
		}
		links[i] = link;
		answer("ok");
	} else if (!links[i]) {
		answer("error: %s is not attached", shown(name));
	} else {
		warnings[0] = '\0';
		err = bpf_link__destroy(links[i]);
		links[i] = NULL;
		if (err) {
			describe(msg, sizeof(msg), "detach", -err);
			answer("error: %s", msg);
		} else {
			answer("ok");
		}
	}
}

/* serve answers commands until end of input. A line longer than the
 * buffer is answered once, as an error, and otherwise skipped. */
static void serve(struct bpf_object *obj)
{
	char line[MAX_LINE];
	bool too_long = false;
	size_t n;

	while (fgets(line, sizeof(line), stdin)) {
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\n') {
			line[--n] = '\0';
			if (too_long) {
				too_long = false;
				continue;
			}
		} else if (!feof(stdin)) {
			if (!too_long)
				answer("error: line longer than %d bytes", MAX_LINE - 2);
			too_long = true;
			continue;
		}
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		command(obj, line);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ksystest-libbpf [--btf PATH] [--rodata OFFSET:HEXBYTES ...] [--log-level N]\n"
		"                       [--deny-kprobe SYMBOL] OBJECT.o\n"
		"       ksystest-libbpf --version\n"
		"  --btf PATH            the kernel's BTF, for a kernel without /sys/kernel/btf/vmlinux\n"
		"  --rodata OFF:HEX      write these bytes at OFF into .rodata before loading\n"
		"  --log-level N         the verifier's log level (default 1)\n"
		"  --deny-kprobe SYMBOL  test hook: libbpf's kprobes on SYMBOL fail with ENOENT\n"
		"                        (perf_event_open and tracefs alike); __x64_sys_bpf on x86_64\n"
		"                        makes libbpf decide the kernel has no syscall wrapper\n"
		"  --version             print libbpf's version and the Debian package, exit\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"btf", required_argument, NULL, 'b'},
		{"rodata", required_argument, NULL, 'r'},
		{"log-level", required_argument, NULL, 'l'},
		{"deny-kprobe", required_argument, NULL, 'd'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct patch patches[MAX_PATCHES];
	char msg[MAX_MSG + 256] = "";
	const char *btf = NULL, *path;
	unsigned long log_level = 1;
	struct bpf_object *obj;
	struct bpf_program *prog;
	int n = 0, opt, err, i, nprogs = 0;
	bool version = false;
	char *end;

	libbpf_set_print(print_libbpf);
	opterr = 0;
	while (!msg[0] && (opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case 'b':
			btf = optarg;
			break;
		case 'r':
			if (n == MAX_PATCHES)
				snprintf(msg, sizeof(msg), "more than %d --rodata patches", MAX_PATCHES);
			else if (parse_patch(optarg, &patches[n], msg, sizeof(msg)) == 0)
				n++;
			break;
		case 'l':
			errno = 0;
			log_level = strtoul(optarg, &end, 0);
			if (errno || end == optarg || *end || log_level > 0xffff)
				snprintf(msg, sizeof(msg), "--log-level %s: want a number", optarg);
			break;
		case 'd':
			if (deny_kprobe)
				snprintf(msg, sizeof(msg), "--deny-kprobe given twice");
			else if (!optarg[0] || strlen(optarg) > 128)
				snprintf(msg, sizeof(msg), "--deny-kprobe wants a symbol of 1 to 128 bytes");
			else
				deny_kprobe = optarg;
			break;
		case 'V':
			version = true;
			break;
		case ':':
			snprintf(msg, sizeof(msg), "%s wants an argument", argv[optind - 1]);
			break;
		default:
			snprintf(msg, sizeof(msg), "unknown option %s", argv[optind - 1]);
		}
	}
	if (!msg[0] && version) {
		printf("ksystest-libbpf: libbpf %u.%u, %s\n", libbpf_major_version(),
		       libbpf_minor_version(), KSYSTEST_LIBBPF_PACKAGE);
		return 0;
	}
	if (!msg[0] && optind != argc - 1)
		snprintf(msg, sizeof(msg), "want one OBJECT.o, got %d arguments", argc - optind);
	if (msg[0]) {
		usage();
		fprintf(stderr, "ksystest-libbpf: %s\n", msg);
		put_result(msg, NULL);
		return 2;
	}
	path = argv[optind];

	LIBBPF_OPTS(bpf_object_open_opts, open_opts,
		.btf_custom_path = btf,
		.kernel_log_level = (__u32)log_level,
	);
	errno = 0;
	obj = bpf_object__open_file(path, &open_opts);
	if (!obj) {
		describe(msg, sizeof(msg), "open", errno ? errno : EINVAL);
		goto fail;
	}
	if (patch_rodata(obj, patches, n, msg, sizeof(msg)))
		goto fail;
	warnings[0] = '\0';
	err = bpf_object__load(obj);
	if (err) {
		describe(msg, sizeof(msg), "load", -err);
		goto fail;
	}
	bpf_object__for_each_program(prog, obj)
		nprogs++;
	links = calloc(nprogs ? nprogs : 1, sizeof(*links));
	if (!links) {
		snprintf(msg, sizeof(msg), "out of memory");
		goto fail;
	}
	put_result("", obj);

	serve(obj);
	for (i = 0; i < nprogs; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return 0;

fail:
	fprintf(stderr, "ksystest-libbpf: %s: %s\n", path, msg);
	put_result(msg, NULL);
	bpf_object__close(obj);
	return 1;
}
