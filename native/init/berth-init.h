/*
 * berth-init: shared declarations of the C helper that runs between fork and exec.
 * See berth-init.c for the protocol with the TypeScript runtime (also docs/init-protocol.md).
 */
#ifndef BERTH_INIT_H
#define BERTH_INIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One operation of the configuration: argv[0] is its name, argv[1..argc-1] its fields. */
struct op {
	int argc;
	char **argv;
};

struct config {
	struct op *ops;
	int nops;
};

/* The protocol socket (fd 3 at start; it carries config, "go", and our status lines). */
extern int sync_fd;
/* Set once the process has pivoted into the container root. */
extern int pivoted;

/* Reports "error <message>" to the runtime (and stderr when the socket is gone) and exits 1. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Same, appending ": strerror(errno)". */
void die_errno(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Writes one status line ("pid 12", "ready") to the runtime. */
void send_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* config.c: reads the configuration netstring from fd and parses it in place. */
void read_config(int fd, struct config *cfg);
/* Parses a decimal or 0x-hex unsigned number or dies naming the op. */
uint64_t parse_u64(const struct op *op, int index);

/* rootfs.c: mount-namespace operations; each returns 1 when it handled op, 0 when op is not its own. */
int rootfs_op(const struct op *op);

/* process.c: process attributes (user, caps, rlimits...) and the final exec. */
int process_op(const struct op *op);
/* Runs the final sequence: close fds, rlimits, user, caps, cwd, lookup, ready+barrier (init), execve. */
void finalize_and_exec(int is_init) __attribute__((noreturn));

#endif
