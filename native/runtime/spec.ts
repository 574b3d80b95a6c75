/**
 * Reading and validating an OCI runtime spec. Every refusal is InvalidArgument naming the field
 * (`process.cwd: must be an absolute path`); a missing bundle file or rootfs is NotFound naming the path.
 */
import fs from 'node:fs/promises';
import { lstatSync, statSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgument, NotFound, messageOf } from '../../pkg/errdefs';
import type { NamespaceType, OciProcess, OciSpec } from './spec-types';
import { capabilityMask } from './capabilities';
import { rlimitNumber } from './rlimits';
import { validateHooks } from './hooks';
import { validateIdMappings } from './userns';
import { seccompOps } from './seccomp';

/** Reads `<bundle>/config.json`. */
export async function readBundleSpec(bundle: string): Promise<OciSpec> {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFound(`bundle ${bundle}: ${file} not found`);
    throw new InvalidArgument(`bundle ${bundle}: read ${file}: ${messageOf(err)}`, { cause: err });
  }
  try {
    const spec = JSON.parse(text) as unknown;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error('not a JSON object');
    return spec as OciSpec;
  } catch (err) {
    throw new InvalidArgument(`bundle ${bundle}: ${file}: ${messageOf(err)}`, { cause: err });
  }
}

const NAMESPACE_TYPES: readonly NamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

function fail(field: string, message: string): never {
  throw new InvalidArgument(`${field}: ${message}`);
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** A cwd reached through a process's descriptors (CVE-2024-21626) is refused before anything runs. */
export function isDescriptorPath(p: string): boolean {
  const clean = path.posix.normalize(p);
  return /^\/proc\/(self|thread-self|\d+)(\/task\/\d+)?\/(fd|fdinfo|cwd|root|exe|map_files)(\/|$)/.test(clean);
}

/** Checks spec.process (for the init or for an exec'd process). */
export function validateProcess(proc: OciProcess | undefined, field = 'process'): asserts proc is OciProcess {
  if (!proc || typeof proc !== 'object') fail(field, 'is required');
  if (!Array.isArray(proc.args) || proc.args.length === 0) fail(`${field}.args`, 'must not be empty');
  proc.args.forEach((a, i) => {
    if (typeof a !== 'string') fail(`${field}.args[${i}]`, 'must be a string');
    if (a.includes('\0')) fail(`${field}.args[${i}]`, 'must not contain NUL');
  });
  if (proc.args[0] === '') fail(`${field}.args[0]`, 'must not be empty');
  (proc.env ?? []).forEach((e, i) => {
    if (typeof e !== 'string' || !e.includes('=') || e.startsWith('=')) fail(`${field}.env[${i}]`, `"${e}" is not NAME=value`);
    if (e.includes('\0')) fail(`${field}.env[${i}]`, 'must not contain NUL');
  });
  if (typeof proc.cwd !== 'string' || !proc.cwd.startsWith('/')) fail(`${field}.cwd`, 'must be an absolute path');
  if (isDescriptorPath(proc.cwd)) fail(`${field}.cwd`, `${proc.cwd} goes through a process's descriptors`);
  const user = proc.user;
  if (!user || !isUint(user.uid)) fail(`${field}.user.uid`, 'must be a non-negative integer');
  if (!isUint(user.gid)) fail(`${field}.user.gid`, 'must be a non-negative integer');
  (user.additionalGids ?? []).forEach((g, i) => isUint(g) || fail(`${field}.user.additionalGids[${i}]`, 'must be a non-negative integer'));
  if (user.umask !== undefined && !(isUint(user.umask) && user.umask <= 0o777)) fail(`${field}.user.umask`, 'must be between 0 and 0777');
  const caps = proc.capabilities ?? {};
  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
    const list = caps[set];
    if (list === undefined) continue;
    if (!Array.isArray(list)) fail(`${field}.capabilities.${set}`, 'must be a list');
    capabilityMask(list, `${field}.capabilities.${set}`);
  }
  (proc.rlimits ?? []).forEach((r, i) => {
    rlimitNumber(r.type, `${field}.rlimits[${i}].type`);
    if (typeof r.soft !== 'number' || typeof r.hard !== 'number' || r.soft < 0 || r.hard < 0) {
      fail(`${field}.rlimits[${i}]`, 'soft and hard must be non-negative numbers');
    }
    if (r.soft > r.hard) fail(`${field}.rlimits[${i}]`, `soft limit ${r.soft} above hard limit ${r.hard}`);
  });
  if (proc.oomScoreAdj !== undefined && !(Number.isInteger(proc.oomScoreAdj) && proc.oomScoreAdj >= -1000 && proc.oomScoreAdj <= 1000)) {
    fail(`${field}.oomScoreAdj`, 'must be between -1000 and 1000');
  }
  if (proc.consoleSize && (!isUint(proc.consoleSize.width) || !isUint(proc.consoleSize.height))) fail(`${field}.consoleSize`, 'bad size');
}

export function hasNamespace(spec: OciSpec, type: NamespaceType): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === type);
}

/**
 * Validates a container's spec against its bundle; returns the absolute rootfs path. Checks what can be
 * checked without running anything (the init re-checks what depends on the rootfs' content at mount time).
 */
export async function validateSpec(spec: OciSpec, bundle: string): Promise<string> {
  if (typeof spec !== 'object' || spec === null) fail('spec', 'must be an object');
  validateProcess(spec.process);
  if (!spec.root || typeof spec.root.path !== 'string' || spec.root.path === '') fail('root.path', 'is required');
  const rootfs = path.resolve(bundle, spec.root.path);
  const linux = spec.linux ?? {};
  const seen = new Set<string>();
  (linux.namespaces ?? []).forEach((ns, i) => {
    if (!NAMESPACE_TYPES.includes(ns.type)) fail(`linux.namespaces[${i}].type`, `unknown namespace type "${String(ns.type)}"`);
    if (seen.has(ns.type)) fail(`linux.namespaces[${i}]`, `duplicate ${ns.type} namespace`);
    seen.add(ns.type);
    if (ns.path !== undefined && (typeof ns.path !== 'string' || !ns.path.startsWith('/'))) {
      fail(`linux.namespaces[${i}].path`, 'must be an absolute path');
    }
  });
  validateIdMappings(spec);
  if (!seen.has('mount')) fail('linux.namespaces', 'a mount namespace is required');
  if ((spec.hostname || spec.domainname) && !seen.has('uts')) fail('hostname', 'needs a private uts namespace');
  (spec.mounts ?? []).forEach((m, i) => {
    if (!m || typeof m.destination !== 'string' || m.destination === '') fail(`mounts[${i}].destination`, 'is required');
    if (m.destination.includes('\0')) fail(`mounts[${i}].destination`, 'must not contain NUL');
  });
  for (const key of Object.keys(linux.sysctl ?? {})) {
    if (!/^[A-Za-z0-9_.\-/]+$/.test(key) || key.split(/[./]/).some((c) => c === '..' || c === '')) fail(`linux.sysctl`, `bad key "${key}"`);
  }
  if (linux.cgroupsPath !== undefined && typeof linux.cgroupsPath !== 'string') fail('linux.cgroupsPath', 'must be a string');
  const propagations = ['', 'private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'];
  if (linux.rootfsPropagation !== undefined && !propagations.includes(linux.rootfsPropagation)) {
    fail('linux.rootfsPropagation', `unknown propagation "${linux.rootfsPropagation}"`);
  }
  validateHooks(spec);
  seccompOps(linux.seccomp); // throws InvalidArgument naming the field
  let st;
  try {
    st = statSync(rootfs); // synchronous: two thread-pool round trips cost more than these stats
  } catch {
    throw new NotFound(`rootfs ${rootfs}: not found`);
  }
  if (!st.isDirectory()) fail('root.path', `${rootfs} is not a directory`);
  try {
    const proc = lstatSync(path.join(rootfs, 'proc'));
    if (proc.isSymbolicLink()) fail('root.path', `${rootfs}/proc is a symlink`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return rootfs;
}
