/**
 * The OCI runtime spec's Go structs (opencontainers/runtime-spec specs-go 1.0.2-dev, the version ctr 1.6 is
 * built with): field order, JSON names and `omitempty`. ctr re-marshals every spec through these structs, so
 * printing a spec "as ctr does" means putting its keys in this order, leaving out empty `omitempty` fields,
 * writing zero values for missing non-omitempty ones and dropping keys the structs do not know.
 *
 * Type notation: `string` `number` `bool` scalars, `*T` pointer (kept when present, even if zero), `[]T`
 * slice, `map` map[string]string, `map:T` map of structs, `raw` anything (kept as it is), otherwise a struct.
 */

type FieldDef = readonly [json: string, type: string, omitempty: boolean];

const S: Record<string, readonly FieldDef[]> = {
  Spec: [
    ['ociVersion', 'string', false],
    ['process', '*Process', true],
    ['root', '*Root', true],
    ['hostname', 'string', true],
    ['domainname', 'string', true],
    ['mounts', '[]Mount', true],
    ['hooks', '*Hooks', true],
    ['annotations', 'map', true],
    ['linux', '*Linux', true],
    ['solaris', '*raw', true],
    ['windows', '*raw', true],
    ['vm', '*raw', true],
    ['zos', '*raw', true],
  ],
  Process: [
    ['terminal', 'bool', true],
    ['consoleSize', '*Box', true],
    ['user', 'User', false],
    ['args', '[]string', true],
    ['commandLine', 'string', true],
    ['env', '[]string', true],
    ['cwd', 'string', false],
    ['capabilities', '*LinuxCapabilities', true],
    ['rlimits', '[]POSIXRlimit', true],
    ['noNewPrivileges', 'bool', true],
    ['apparmorProfile', 'string', true],
    ['oomScoreAdj', '*number', true],
    ['selinuxLabel', 'string', true],
  ],
  LinuxCapabilities: [
    ['bounding', '[]string', true],
    ['effective', '[]string', true],
    ['inheritable', '[]string', true],
    ['permitted', '[]string', true],
    ['ambient', '[]string', true],
  ],
  Box: [
    ['height', 'number', false],
    ['width', 'number', false],
  ],
  User: [
    ['uid', 'number', false],
    ['gid', 'number', false],
    ['umask', '*number', true],
    ['additionalGids', '[]number', true],
    ['username', 'string', true],
  ],
  Root: [
    ['path', 'string', false],
    ['readonly', 'bool', true],
  ],
  Mount: [
    ['destination', 'string', false],
    ['type', 'string', true],
    ['source', 'string', true],
    ['options', '[]string', true],
    ['uidMappings', '[]LinuxIDMapping', true],
    ['gidMappings', '[]LinuxIDMapping', true],
  ],
  Hook: [
    ['path', 'string', false],
    ['args', '[]string', true],
    ['env', '[]string', true],
    ['timeout', '*number', true],
  ],
  Hooks: [
    ['prestart', '[]Hook', true],
    ['createRuntime', '[]Hook', true],
    ['createContainer', '[]Hook', true],
    ['startContainer', '[]Hook', true],
    ['poststart', '[]Hook', true],
    ['poststop', '[]Hook', true],
  ],
  Linux: [
    ['uidMappings', '[]LinuxIDMapping', true],
    ['gidMappings', '[]LinuxIDMapping', true],
    ['sysctl', 'map', true],
    ['resources', '*LinuxResources', true],
    ['cgroupsPath', 'string', true],
    ['namespaces', '[]LinuxNamespace', true],
    ['devices', '[]LinuxDevice', true],
    ['seccomp', '*raw', true],
    ['rootfsPropagation', 'string', true],
    ['maskedPaths', '[]string', true],
    ['readonlyPaths', '[]string', true],
    ['mountLabel', 'string', true],
    ['intelRdt', '*raw', true],
    ['personality', '*raw', true],
  ],
  LinuxNamespace: [
    ['type', 'string', false],
    ['path', 'string', true],
  ],
  LinuxIDMapping: [
    ['containerID', 'number', false],
    ['hostID', 'number', false],
    ['size', 'number', false],
  ],
  POSIXRlimit: [
    ['type', 'string', false],
    ['hard', 'number', false],
    ['soft', 'number', false],
  ],
  LinuxResources: [
    ['devices', '[]LinuxDeviceCgroup', true],
    ['memory', '*LinuxMemory', true],
    ['cpu', '*LinuxCPU', true],
    ['pids', '*LinuxPids', true],
    ['blockIO', '*raw', true],
    ['hugepageLimits', '[]raw', true],
    ['network', '*raw', true],
    ['rdma', 'map:raw', true],
    ['unified', 'map', true],
  ],
  LinuxMemory: [
    ['limit', '*number', true],
    ['reservation', '*number', true],
    ['swap', '*number', true],
    ['kernel', '*number', true],
    ['kernelTCP', '*number', true],
    ['swappiness', '*number', true],
    ['disableOOMKiller', '*bool', true],
    ['useHierarchy', '*bool', true],
    ['checkBeforeUpdate', '*bool', true],
  ],
  LinuxCPU: [
    ['shares', '*number', true],
    ['quota', '*number', true],
    ['burst', '*number', true],
    ['period', '*number', true],
    ['realtimeRuntime', '*number', true],
    ['realtimePeriod', '*number', true],
    ['cpus', 'string', true],
    ['mems', 'string', true],
    ['idle', '*number', true],
  ],
  LinuxPids: [['limit', 'number', false]],
  LinuxDevice: [
    ['path', 'string', false],
    ['type', 'string', false],
    ['major', 'number', false],
    ['minor', 'number', false],
    ['fileMode', '*number', true],
    ['uid', '*number', true],
    ['gid', '*number', true],
  ],
  LinuxDeviceCgroup: [
    ['allow', 'bool', false],
    ['type', 'string', true],
    ['major', '*number', true],
    ['minor', '*number', true],
    ['access', 'string', true],
  ],
};

const ZERO: Record<string, unknown> = { string: '', number: 0, bool: false };

function isPresent(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function convert(type: string, v: unknown): unknown {
  if (type === 'raw') return v ?? null;
  if (type in ZERO) return typeof v === typeof ZERO[type] ? v : ZERO[type];
  if (type.startsWith('*')) return isPresent(v) ? convert(type.slice(1), v) : null;
  if (type.startsWith('[]')) return Array.isArray(v) ? v.map((x) => convert(type.slice(2), x)) : null;
  if (type === 'map' || type.startsWith('map:')) {
    if (!isPresent(v) || typeof v !== 'object') return null;
    const valueType = type === 'map' ? 'string' : type.slice(4);
    const keys = Object.keys(v as object).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return new Map(keys.map((k) => [k, convert(valueType, (v as Record<string, unknown>)[k])]));
  }
  return goStruct(type, (isPresent(v) && typeof v === 'object' ? v : {}) as Record<string, unknown>);
}

function isEmpty(type: string, v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (type in ZERO) return v === ZERO[type];
  if (type.startsWith('[]')) return (v as unknown[]).length === 0;
  if (type === 'map' || type.startsWith('map:')) return (v as Map<string, unknown>).size === 0;
  return false; // structs are never empty for encoding/json
}

/** One struct of the schema as the ordered value Go would marshal. */
export function goStruct(name: string, obj: Record<string, unknown>): Map<string, unknown> {
  const fields = S[name];
  if (!fields) throw new Error(`unknown spec struct ${name}`);
  const out = new Map<string, unknown>();
  for (const [json, type, omitempty] of fields) {
    const v = convert(type, obj[json]);
    if (omitempty && isEmpty(type, v)) continue;
    out.set(json, v);
  }
  return out;
}

/** A whole OCI spec (parsed JSON) as ctr would print it after a round trip through specs.Spec. */
export function goSpecValue(spec: unknown): Map<string, unknown> {
  return goStruct('Spec', (spec ?? {}) as Record<string, unknown>);
}
