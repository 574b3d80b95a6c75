/*
 * The seccomp filter of a container process, built with libseccomp from operations the runtime planned
 * (native/runtime/seccomp.ts knows the OCI names; this file only numbers):
 *
 *   seccomp-init <default action> [<flag>...]     a new filter; flags SECCOMP_FILTER_FLAG_TSYNC, _LOG,
 *                                                 _SPEC_ALLOW become the matching libseccomp attributes
 *   seccomp-arch <name>                           adds an architecture ("x86_64", "x86", "x32"...)
 *   seccomp-rule <action> <syscall> [<arg index> <op> <value> <valueTwo>]...
 *                                                 one rule; all its conditions must hold. A syscall name
 *                                                 this libseccomp does not know is skipped, as runc does.
 *
 * The filter is built when the operations are read (so a bad profile fails before "ready") and loaded by
 * seccomp_apply(), which finalize_and_exec calls as late as it can: just before execve when the process
 * has no_new_privs, else before the capabilities are dropped (loading needs CAP_SYS_ADMIN without
 * no_new_privs), as runc does. libseccomp is told not to set no_new_privs itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <string.h>

#include "seccomp.h"

static scmp_filter_ctx filter;

static void set_attr(enum scmp_filter_attr attr, uint32_t value, const char *what)
{
	int r = seccomp_attr_set(filter, attr, value);
	if (r < 0)
		die("seccomp: set %s: %s", what, strerror(-r));
}

static void init_filter(const struct op *op)
{
	if (filter)
		die("seccomp-init: filter already started");
	uint32_t def = (uint32_t)parse_u64(op, 1);
	filter = seccomp_init(def);
	if (!filter)
		die("seccomp: cannot create a filter with default action 0x%x", def);
	set_attr(SCMP_FLTATR_CTL_NNP, 0, "no_new_privs attribute");
	for (int i = 2; i < op->argc; i++) {
		if (strcmp(op->argv[i], "SECCOMP_FILTER_FLAG_TSYNC") == 0)
			set_attr(SCMP_FLTATR_CTL_TSYNC, 1, op->argv[i]);
		else if (strcmp(op->argv[i], "SECCOMP_FILTER_FLAG_LOG") == 0)
			set_attr(SCMP_FLTATR_CTL_LOG, 1, op->argv[i]);
		else if (strcmp(op->argv[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
			set_attr(SCMP_FLTATR_CTL_SSB, 1, op->argv[i]);
		else
			die("seccomp: unknown flag %s", op->argv[i]);
	}
}

static void add_arch(const struct op *op)
{
	if (!filter || op->argc != 2)
		die("seccomp-arch: bad operation");
	uint32_t arch = seccomp_arch_resolve_name(op->argv[1]);
	if (arch == 0)
		die("seccomp: unknown architecture %s", op->argv[1]);
	int r = seccomp_arch_add(filter, arch);
	if (r < 0 && r != -EEXIST)
		die("seccomp: add architecture %s: %s", op->argv[1], strerror(-r));
}

static void add_rule(const struct op *op)
{
	if (!filter || op->argc < 3 || (op->argc - 3) % 4 != 0 || (op->argc - 3) / 4 > 6)
		die("seccomp-rule: bad operation");
	uint32_t action = (uint32_t)parse_u64(op, 1);
	int nr = seccomp_syscall_resolve_name(op->argv[2]);
	if (nr == __NR_SCMP_ERROR)
		return; /* not a syscall this libseccomp knows: skipped (runc does the same) */
	struct scmp_arg_cmp conds[6];
	unsigned int n = 0;
	for (int i = 3; i < op->argc; i += 4, n++) {
		conds[n].arg = (unsigned int)parse_u64(op, i);
		conds[n].op = (enum scmp_compare)parse_u64(op, i + 1);
		conds[n].datum_a = parse_u64(op, i + 2);
		conds[n].datum_b = parse_u64(op, i + 3);
		if (conds[n].arg > 5 || conds[n].op < SCMP_CMP_NE || conds[n].op > SCMP_CMP_MASKED_EQ)
			die("seccomp: bad condition for %s", op->argv[2]);
	}
	int r = seccomp_rule_add_array(filter, action, nr, n, conds);
	if (r < 0)
		die("seccomp: add rule for %s: %s", op->argv[2], strerror(-r));
}

int seccomp_op(const struct op *op)
{
	const char *n = op->argv[0];
	if (strcmp(n, "seccomp-init") == 0)
		init_filter(op);
	else if (strcmp(n, "seccomp-arch") == 0)
		add_arch(op);
	else if (strcmp(n, "seccomp-rule") == 0)
		add_rule(op);
	else
		return 0;
	return 1;
}

void seccomp_apply(void)
{
	if (!filter)
		return;
	int r = seccomp_load(filter);
	if (r < 0)
		die("seccomp: load the filter: %s", strerror(-r));
	seccomp_release(filter);
	filter = NULL;
}
