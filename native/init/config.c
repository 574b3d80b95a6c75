/*
 * Reading the configuration: one netstring of netstrings of netstrings (see berth-init.c).
 *
 *   config    = netstring(op*)
 *   op        = netstring(field+)       field 0 is the operation's name
 *   field     = netstring(bytes)        "<decimal length>:<bytes>,"
 *
 * Parsing is done in place: each field's terminating ',' becomes its NUL, so argv points into the buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth-init.h"

#define MAX_CONFIG (16u << 20)

static void read_exact(int fd, char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die_errno("read configuration");
		if (n == 0)
			die("read configuration: unexpected end of stream");
		buf += n;
		len -= (size_t)n;
	}
}

/* Parses "<len>:" at *p (bounded by end); returns the length and moves *p to the first data byte. */
static size_t netstring_head(char **p, const char *end)
{
	size_t len = 0;
	int digits = 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		len = len * 10 + (size_t)(**p - '0');
		if (len > MAX_CONFIG)
			die("configuration: netstring too long");
		(*p)++;
		digits++;
	}
	if (digits == 0 || *p >= end || **p != ':')
		die("configuration: malformed netstring");
	(*p)++;
	if ((size_t)(end - *p) < len + 1 || (*p)[len] != ',')
		die("configuration: malformed netstring");
	return len;
}

void read_config(int fd, struct config *cfg)
{
	/* The outer length is read one byte at a time: nothing past the netstring may be consumed. */
	char head[16];
	size_t n = 0;
	for (;;) {
		if (n == sizeof head - 1)
			die("configuration: malformed length");
		read_exact(fd, &head[n], 1);
		if (head[n] == ':')
			break;
		if (head[n] < '0' || head[n] > '9')
			die("configuration: malformed length");
		n++;
	}
	head[n] = 0;
	size_t total = strtoul(head, NULL, 10);
	if (total > MAX_CONFIG)
		die("configuration: too long");
	char *buf = malloc(total + 1);
	if (!buf)
		die("configuration: out of memory");
	read_exact(fd, buf, total + 1);
	if (buf[total] != ',')
		die("configuration: malformed netstring");

	int cap = 64;
	cfg->ops = calloc((size_t)cap, sizeof(struct op));
	cfg->nops = 0;
	char *p = buf, *end = buf + total;
	while (p < end) {
		size_t oplen = netstring_head(&p, end);
		char *opend = p + oplen;
		struct op op = { 0, NULL };
		int fcap = 8;
		op.argv = calloc((size_t)fcap + 1, sizeof(char *));
		while (p < opend) {
			size_t flen = netstring_head(&p, opend);
			if (memchr(p, 0, flen))
				die("configuration: NUL byte in a field");
			if (op.argc == fcap) {
				fcap *= 2;
				op.argv = realloc(op.argv, ((size_t)fcap + 1) * sizeof(char *));
			}
			op.argv[op.argc++] = p;
			p[flen] = 0;
			p += flen + 1;
		}
		op.argv[op.argc] = NULL;
		if (op.argc == 0)
			die("configuration: empty operation");
		p = opend + 1;
		if (cfg->nops == cap) {
			cap *= 2;
			cfg->ops = realloc(cfg->ops, (size_t)cap * sizeof(struct op));
		}
		cfg->ops[cfg->nops++] = op;
	}
}

uint64_t parse_u64(const struct op *op, int index)
{
	if (index >= op->argc)
		die("%s: missing field %d", op->argv[0], index);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(op->argv[index], &end, 0);
	if (errno || end == op->argv[index] || *end)
		die("%s: bad number %s", op->argv[0], op->argv[index]);
	return (uint64_t)v;
}
