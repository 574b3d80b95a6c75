/*
 * berth-init: the seccomp filter of the container process (linux.seccomp), built with libseccomp.
 * See seccomp.c and native/runtime/seccomp.ts (which translates the OCI profile into these operations).
 */
#ifndef BERTH_SECCOMP_H
#define BERTH_SECCOMP_H

#include "berth-init.h"

/* seccomp-init / seccomp-arch / seccomp-rule: builds the filter in memory; 1 when op was one of them. */
int seccomp_op(const struct op *op);
/* Loads the filter into the kernel (once; no-op without seccomp operations). Dies on failure. */
void seccomp_apply(void);

#endif
