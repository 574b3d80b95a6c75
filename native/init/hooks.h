/*
 * berth-init: OCI hooks that run inside the container's namespaces (createContainer, startContainer).
 * See hooks.c and native/runtime/hooks.ts (which plans them).
 */
#ifndef BERTH_HOOKS_H
#define BERTH_HOOKS_H

#include "berth-init.h"

/* "hook ..." runs a hook now; "hook-after-start ..." records one for hooks_after_start(). 1 when handled. */
int hooks_op(const struct op *op);
/* Runs the recorded hooks (after the start barrier, before execve). Dies on the first failure. */
void hooks_after_start(void);

#endif
