/**
 * OCI hooks run by the runtime in its own namespaces, with the container's state as JSON on stdin:
 * prestart and createRuntime (after the namespaces exist, before the init mounts and pivots: docker's
 * libnetwork-setkey configures the network namespace here), poststart (after run; failures are logged),
 * poststop (at destroy; failures are logged). createContainer and startContainer run inside the container's
 * namespaces, by berth-init itself (native/init/hooks.c): `containerHookOps` plans them.
 */
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { DeadlineExceeded, Internal, InvalidArgument } from '../../pkg/errdefs';

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface OciHooks {
  prestart?: OciHook[];
  createRuntime?: OciHook[];
  createContainer?: OciHook[];
  startContainer?: OciHook[];
  poststart?: OciHook[];
  poststop?: OciHook[];
}

/** The state document hooks receive (runtime-spec "state"). */
export interface HookState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations: Record<string, string>;
}

export const DEFAULT_HOOK_TIMEOUT_S = 60;

export function hooksOf(spec: { hooks?: unknown }): OciHooks {
  const h = spec.hooks;
  if (h === undefined || h === null) return {};
  if (typeof h !== 'object') throw new InvalidArgument('hooks: must be an object');
  return h as OciHooks;
}

export function validateHooks(spec: { hooks?: unknown }): void {
  const hooks = hooksOf(spec);
  for (const [kind, list] of Object.entries(hooks)) {
    if (!Array.isArray(list)) throw new InvalidArgument(`hooks.${kind}: must be a list`);
    list.forEach((hook: OciHook, i) => {
      if (!hook || typeof hook.path !== 'string' || !hook.path.startsWith('/')) throw new InvalidArgument(`hooks.${kind}[${i}].path: must be an absolute path`);
      if (hook.timeout !== undefined && !(Number.isInteger(hook.timeout) && hook.timeout > 0)) throw new InvalidArgument(`hooks.${kind}[${i}].timeout: must be a positive integer`);
    });
  }
}

/** Runs one hook; rejects when it fails or times out. */
export function runHook(kind: string, hook: OciHook, state: HookState): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    const args = hook.args ?? [hook.path];
    const child = spawn(hook.path, args.slice(1), { argv0: args[0] ?? hook.path, env, stdio: ['pipe', 'ignore', 'pipe'] });
    const what = `container ${state.id}: ${kind} hook ${hook.path}`;
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new DeadlineExceeded(`${what}: timed out after ${hook.timeout ?? DEFAULT_HOOK_TIMEOUT_S} s`));
    }, (hook.timeout ?? DEFAULT_HOOK_TIMEOUT_S) * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Internal(`${what}: ${err.message}`, { cause: err }));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Internal(`${what}: ${signal ? `killed by ${signal}` : `exited with ${code}`}${stderr ? `: ${stderr.trim()}` : ''}`));
    });
    child.stdin!.on('error', () => {}); // a hook that does not read its stdin
    child.stdin!.end(JSON.stringify(state));
  });
}

/**
 * Runs hooks in order. The first failure stops them, except for poststart and poststop, where the spec
 * says the remaining hooks still run: then the first failure is reported once all have run.
 */
export async function runHooks(kind: string, hooks: OciHook[] | undefined, state: HookState): Promise<void> {
  const keepGoing = kind === 'poststart' || kind === 'poststop';
  let first: unknown;
  for (const hook of hooks ?? []) {
    try {
      await runHook(kind, hook, state);
    } catch (err) {
      if (!keepGoing) throw err;
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/** What the in-container hooks' state is made of; berth-init adds the pid (the host's view of it). */
export interface ContainerHookContext {
  ociVersion: string;
  id: string;
  bundle: string;
  annotations: Record<string, string>;
}

function hookOp(name: string, kind: string, status: string, hook: OciHook, ctx: ContainerHookContext): string[] {
  const before = `${JSON.stringify({ ociVersion: ctx.ociVersion, id: ctx.id, status }).slice(0, -1)},"pid":`;
  const after = `,${JSON.stringify({ bundle: ctx.bundle, annotations: ctx.annotations }).slice(1)}`;
  const args = hook.args ?? [];
  return [name, kind, String(hook.timeout ?? DEFAULT_HOOK_TIMEOUT_S), before, after, hook.path, String(args.length), ...args, ...(hook.env ?? [])];
}

/**
 * berth-init operations for createContainer hooks ("hook": run where the operation stands, which is before
 * pivot_root: their path resolves in the runtime's filesystem, as the spec says) and startContainer hooks
 * ("hook-after-start": run after the start barrier, before execve; their path resolves in the container).
 * State status: 'creating' and 'created', as runc gives them.
 */
export function containerHookOps(hooks: OciHooks, ctx: ContainerHookContext): string[][] {
  return [
    ...(hooks.createContainer ?? []).map((h) => hookOp('hook', 'createContainer', 'creating', h, ctx)),
    ...(hooks.startContainer ?? []).map((h) => hookOp('hook-after-start', 'startContainer', 'created', h, ctx)),
  ];
}

/** The executable of pid (readlink /proc/<pid>/exe), or undefined when it is gone. */
export function exeOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/**
 * Waits until pid has exec'd (its executable is no longer `before`) or is gone, at most `timeoutMs`: when the
 * container is started from another process than the one that created it, poststart hooks run only once the
 * user's program runs, as the spec says.
 */
export async function waitForExec(pid: number, before: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  while (Date.now() < deadline) {
    const now = exeOf(pid);
    if (now === undefined || now !== before) return;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 20);
  }
}
