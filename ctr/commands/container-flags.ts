/**
 * ctr's ContainerFlags (shared by `run` and `containers create`), the run-only flags, and NewContainer:
 * the OCI spec from ctr/spec/builder plus the container record (labels, runtime name and runc options).
 * Flags ctr has but bctr does not implement (images, snapshotters, seccomp, apparmor, gpus, devices,
 * privileged, user namespaces, CNI) are not registered, so using one is an "unknown option" error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import type { Client } from '../client';
import type * as T from '../types';
import { collect, labelArgs, annotationArgs, intFlag, floatFlag } from './common';
import { buildSpec, specJson, isLinuxNamespaceType, type Mount, type OciSpec, type SpecRequest } from '../spec/builder';
import { goSpecValue } from '../spec/schema';
import { goMarshal } from '../format/gojson';
import { packAny, OCI_SPEC_TYPE_URL, RUNC_OPTIONS_TYPE } from '../../proto/any';
import { UsageError } from '../errors';
import { RUNC_V2 } from './task-lifecycle';

export interface ContainerFlagValues {
  config?: string;
  cwd?: string;
  env: string[];
  envFile?: string;
  label: string[];
  annotation: string[];
  mount: string[];
  netHost?: boolean;
  readOnly?: boolean;
  runtime: string;
  runtimeConfigPath?: string;
  tty?: boolean;
  withNs: string[];
  pidFile?: string;
  allowNewPrivs?: boolean;
  memoryLimit?: number;
  capAdd: string[];
  capDrop: string[];
  rootfs?: boolean;
  /** false when --no-pivot was given (commander's negatable flag). */
  pivot?: boolean;
  cpuQuota: number;
  cpuPeriod: number;
  rootfsPropagation?: string;
  // run only
  runcBinary?: string;
  runcRoot?: string;
  runcSystemdCgroup?: boolean;
  cpus?: number;
  cpuShares?: number;
  cgroup?: string;
}

/** Adds ctr's ContainerFlags (and with run=true the runc/cpu flags of platformRunFlags) to a command. */
export function addContainerFlags(cmd: Command, run: boolean): Command {
  if (run) {
    cmd
      .option('--runc-binary <value>', 'specify runc-compatible binary')
      .option('--runc-root <value>', 'specify runc-compatible root')
      .option('--runc-systemd-cgroup', 'start runc with systemd cgroup manager')
      .addOption(new Option('--cpus <value>', 'set the CFS cpu quota').argParser(floatFlag('cpus')).default(0))
      .addOption(new Option('--cpu-shares <value>', 'set the cpu shares').argParser(intFlag('cpu-shares')).default(1024));
  }
  return cmd
    .option('-c, --config <value>', 'path to the runtime-specific spec config file')
    .option('--cwd <value>', 'specify the working directory of the process')
    .option('--env <value>', 'specify additional container environment variables (e.g. FOO=bar)', collect, [])
    .option('--env-file <value>', 'specify additional container environment variables in a file(e.g. FOO=bar, one per line)')
    .option('--label <value>', 'specify additional labels (e.g. foo=bar)', collect, [])
    .option('--annotation <value>', 'specify additional OCI annotations (e.g. foo=bar)', collect, [])
    .option('--mount <value>', 'specify additional container mount (e.g. type=bind,src=/tmp,dst=/host,options=rbind:ro)', collect, [])
    .option('--net-host', 'enable host networking for the container')
    .option('--read-only', 'set the containers filesystem as readonly')
    .option('--runtime <value>', 'runtime name', RUNC_V2)
    .option('--runtime-config-path <value>', 'optional runtime config path')
    .option('-t, --tty', 'allocate a TTY for the container')
    .option('--with-ns <value>', "specify existing Linux namespaces to join at container runtime (format '<nstype>:<path>')", collect, [])
    .option('--pid-file <value>', "file path to write the task's pid")
    .option('--allow-new-privs', "turn off OCI spec's NoNewPrivileges feature flag")
    .addOption(new Option('--memory-limit <value>', 'memory limit (in bytes) for the container').argParser(intFlag('memory-limit')).default(0))
    .option('--cap-add <value>', "add Linux capabilities (Set capabilities with 'CAP_' prefix)", collect, [])
    .option('--cap-drop <value>', "drop Linux capabilities (Set capabilities with 'CAP_' prefix)", collect, [])
    .option('--rootfs', 'use custom rootfs that is not managed by containerd snapshotter')
    .option('--no-pivot', 'disable use of pivot-root (linux only)')
    .addOption(new Option('--cpu-quota <value>', 'Limit CPU CFS quota').argParser(intFlag('cpu-quota')).default(-1))
    .addOption(new Option('--cpu-period <value>', 'Limit CPU CFS period').argParser(intFlag('cpu-period')).default(0))
    .option('--rootfs-propagation <value>', 'set the propagation of the container rootfs');
}

/** run.parseMountFlag: `type=bind,src=/a,dst=/b,options=rbind:ro` (a CSV record of key=value). */
export function parseMountFlag(text: string): Mount {
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      if (quoted && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (ch === ',' && !quoted) {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  fields.push(cur);
  const m: Mount = { destination: '' };
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new UsageError('invalid mount specification: expected key=val');
    const key = field.slice(0, eq);
    const val = field.slice(eq + 1);
    if (key === 'type') m.type = val;
    else if (key === 'source' || key === 'src') m.source = val;
    else if (key === 'destination' || key === 'dst') m.destination = val;
    else if (key === 'options') m.options = val.split(':');
    else throw new UsageError(`mount option "${key}" not supported`);
  }
  return m;
}

function checkCaps(caps: string[]): void {
  if (caps.some((c) => !c.startsWith('CAP_'))) throw new UsageError("capabilities must be specified with 'CAP_' prefix");
}

/** The spec request for `ref id args...` (ref is the rootfs directory with --rootfs). */
export function specRequest(namespace: string, id: string, ref: string, args: string[], f: ContainerFlagValues, run: boolean): SpecRequest {
  if (!f.rootfs) {
    throw new UsageError(`image "${ref}": bctr runs containers from a directory only: pass --rootfs DIR`);
  }
  checkCaps(f.capAdd);
  checkCaps(f.capDrop);
  const quotaSet = f.cpuQuota !== -1 || f.cpuPeriod !== 0;
  if (run && quotaSet && (f.cpus ?? 0) > 0) throw new UsageError('cpus and quota/period should be used separately');
  const withNamespaces = f.withNs.map((ns) => {
    const parts = ns.split(':');
    if (parts.length !== 2) throw new UsageError("joining a Linux namespace using --with-ns requires the format 'nstype:path'");
    if (!isLinuxNamespaceType(parts[0])) throw new UsageError(`the Linux namespace type specified in --with-ns is not valid: ${parts[0]}`);
    return { type: parts[0], path: parts[1] };
  });
  let envFile: string[] | undefined;
  if (f.envFile) {
    envFile = fs.readFileSync(f.envFile, 'utf8').split('\n');
    if (envFile[envFile.length - 1] === '') envFile.pop();
  }
  return {
    namespace,
    id,
    rootfs: path.resolve(ref),
    args,
    envFile,
    env: f.env,
    mounts: f.mount.map(parseMountFlag),
    readOnly: f.readOnly,
    cwd: f.cwd,
    tty: f.tty,
    netHost: f.netHost ? { hostname: os.hostname() } : undefined,
    annotations: f.annotation.length > 0 ? annotationArgs(f.annotation) : undefined,
    capAdd: f.capAdd,
    capDrop: f.capDrop,
    cpus: run ? f.cpus : undefined,
    cpuShares: run ? f.cpuShares : undefined,
    cpuQuota: f.cpuQuota,
    cpuPeriod: f.cpuPeriod,
    withNamespaces,
    allowNewPrivileges: f.allowNewPrivs,
    cgroup: run ? f.cgroup : undefined,
    memoryLimit: f.memoryLimit,
    rootfsPropagation: f.rootfsPropagation,
    labels: labelArgs(f.label),
  };
}

/** getRuntimeOptions: runc.v2 always gets a (possibly empty) containerd.runc.v1.Options. */
export function runtimeOptions(f: ContainerFlagValues): ReturnType<typeof packAny> | null {
  if ((f.runcBinary || f.runcSystemdCgroup) && f.runtime !== RUNC_V2) {
    throw new UsageError('specifying runc-binary and runc-systemd-cgroup is only supported for "io.containerd.runc.v2" runtime');
  }
  if (f.runtime !== RUNC_V2) return null;
  const opts: Record<string, unknown> = {};
  if (f.runcBinary) opts.binary_name = f.runcBinary;
  if (f.runcSystemdCgroup) {
    if (!f.cgroup) {
      throw new UsageError('option --runc-systemd-cgroup requires --cgroup to be set, e.g. "machine.slice:foo:deadbeef"');
    }
    opts.systemd_cgroup = true;
  }
  if (f.runcRoot) opts.root = f.runcRoot;
  // An empty Options encodes to no bytes: skip loading the payload protos for the common case.
  if (Object.keys(opts).length === 0) return { type_url: RUNC_OPTIONS_TYPE, value: Buffer.alloc(0) };
  return packAny(RUNC_OPTIONS_TYPE, opts);
}

/**
 * run.NewContainer: `args` are the positional arguments (`ROOTFS ID CMD...`, or just `ID` with --config).
 * Returns the created container.
 */
export async function newContainer(client: Client, args: string[], f: ContainerFlagValues, run: boolean): Promise<T.Container> {
  let id: string;
  let specText: string;
  if (f.config) {
    id = args[0];
    const fromFile = JSON.parse(fs.readFileSync(f.config, 'utf8')) as OciSpec;
    specText = goMarshal(goSpecValue({ ...fromFile, annotations: { ...(fromFile.annotations ?? {}), ...labelArgs(f.label) } }));
  } else {
    id = args[1];
    specText = specJson(buildSpec(specRequest(client.namespace, id, args[0], args.slice(2), f, run)));
  }
  const { container } = await client.containers.Create({
    container: {
      id,
      labels: labelArgs(f.label),
      image: '',
      runtime: { name: f.runtime, options: runtimeOptions(f) },
      spec: { type_url: OCI_SPEC_TYPE_URL, value: Buffer.from(specText) },
      snapshotter: '',
      snapshot_key: '',
      extensions: {},
    },
  });
  if (!container) throw new Error(`container ${id}: daemon returned no container`);
  return container;
}
