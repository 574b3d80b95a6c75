/**
 * Verbs that describe berth-runc itself: `spec` (a default config.json, as `runc spec` writes it),
 * `features` (runc's features document) and the version text.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CAPABILITIES } from '../runtime/capabilities';
import { SECCOMP_FEATURES } from '../runtime/seccomp';
import { exampleSpec } from '../runtime/spec-example';
import type { OciSpec } from '../runtime/spec-types';
import { CliError, OCI_VERSION } from './context';

export const BERTH_RUNC_VERSION = '0.1.0';

export function versionText(): string {
  return `berth-runc version ${BERTH_RUNC_VERSION}\nspec: ${OCI_VERSION}\nnode: ${process.version}\n`;
}

const RUNC_DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** runc's default spec: a read-only rootfs, `sh` on a terminal, three capabilities. */
export function defaultSpec(): OciSpec {
  const spec = exampleSpec({ args: ['sh'], terminal: true, hostname: 'runc' });
  spec.ociVersion = OCI_VERSION;
  spec.root = { path: 'rootfs', readonly: true };
  spec.process!.capabilities = {
    bounding: [...RUNC_DEFAULT_CAPS], effective: [...RUNC_DEFAULT_CAPS], permitted: [...RUNC_DEFAULT_CAPS], ambient: [...RUNC_DEFAULT_CAPS],
  };
  spec.mounts![0] = { destination: '/proc', type: 'proc', source: 'proc' };
  return spec;
}

export function writeSpec(opts: { bundle?: string; rootless?: boolean }): void {
  if (opts.rootless) throw new CliError('rootless containers are not supported by berth-runc');
  const dir = opts.bundle ? path.resolve(opts.bundle) : process.cwd();
  if (!fs.existsSync(dir)) throw new CliError(`chdir ${dir}: no such file or directory`);
  const file = path.join(dir, 'config.json');
  if (fs.existsSync(file)) throw new CliError('File config.json exists. Remove it first');
  fs.writeFileSync(file, JSON.stringify(defaultSpec(), null, '\t'), { mode: 0o666 });
}

const MOUNT_OPTIONS = [
  'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'mand', 'noatime', 'nodev', 'nodiratime', 'noexec',
  'nomand', 'norelatime', 'nostrictatime', 'nosuid', 'private', 'rbind', 'relatime', 'remount', 'ro', 'rprivate', 'rshared',
  'rslave', 'runbindable', 'rw', 'shared', 'slave', 'strictatime', 'suid', 'sync', 'unbindable',
];

export function features(): unknown {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: MOUNT_OPTIONS,
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'],
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: { enabled: true, actions: SECCOMP_FEATURES.actions, operators: SECCOMP_FEATURES.operators, archs: SECCOMP_FEATURES.archs },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'org.berth.runc.version': BERTH_RUNC_VERSION },
  };
}
