// SPDX-License-Identifier: MIT
/*
 * ksystest-libbpf loads a BPF object with libbpf, exactly as the libbpf it
 * is linked with does it, so that ksystest's verdicts hold for the loader
 * users run. The guest agent runs it and talks to it over stdin/stdout:
 *
 *   ksystest-libbpf [--btf PATH] [--rodata OFFSET:HEXBYTES ...]
 *                   [--log-level N] OBJECT.o
 *
 * It opens OBJECT.o, patches the .rodata map's initial value, loads the
 * object and prints one line of JSON on stdout:
 *
 *   {"libbpf":"1.5","package":"...","error":"",
 *    "maps":{"NAME":ID,...},"progs":{"NAME":{"id":ID,"section":"SEC"},...}}
 *
 * "error" is empty on success; on failure maps and progs are empty and the
 * program exits 1 (2 for bad arguments). After a successful load it reads
 * commands, one a line, and answers each with one line:
 *
 *   attach PROG   bpf_program__attach(): libbpf's own auto-attach
 *   detach PROG   bpf_link__destroy()
 *
 * with "ok" or "error: MESSAGE". At end of input it destroys every link,
 * closes the object and exits 0. libbpf's whole log (debug level included,
 * verifier logs too) goes to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	fprintf(stderr, "usage: ksystest-libbpf [--btf PATH] [--rodata OFFSET:HEXBYTES ...] "
			"[--log-level N] OBJECT.o\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"btf", required_argument, NULL, 'b'},
		{"rodata", required_argument, NULL, 'r'},
		{"log-level", required_argument, NULL, 'l'},
		{NULL, 0, NULL, 0},
	};
	struct patch patches[MAX_PATCHES];
	char msg[MAX_MSG + 256] = "";
	const char *btf = NULL, *path;
	unsigned long log_level = 1;
	struct bpf_object *obj;
	struct bpf_program *prog;
	int n = 0, opt, err, i, nprogs = 0;
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
		case ':':
			snprintf(msg, sizeof(msg), "%s wants an argument", argv[optind - 1]);
			break;
		default:
			snprintf(msg, sizeof(msg), "unknown option %s", argv[optind - 1]);
		}
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
