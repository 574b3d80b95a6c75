/**
 * The cgroup resources of a container: spec.linux.resources, with the device rules every container needs
 * appended after the spec's own (runc's "allowed devices": mknod of anything, the default nodes, the console,
 * ptys) and an allow rule for every device node the spec creates.
 */
import type { LinuxResources, OciSpec } from './spec-types';
import { DEFAULT_DEVICES } from './mounts';

type DeviceRule = NonNullable<LinuxResources['devices']>[number];

const ALWAYS_ALLOWED: DeviceRule[] = [
  { allow: true, type: 'c', major: null, minor: null, access: 'm' },
  { allow: true, type: 'b', major: null, minor: null, access: 'm' },
  ...DEFAULT_DEVICES.map((d) => ({ allow: true, type: 'c', major: d.major!, minor: d.minor!, access: 'rwm' })),
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }, // /dev/console
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
  { allow: true, type: 'c', major: 136, minor: null, access: 'rwm' }, // /dev/pts/*
];

export function cgroupResources(spec: OciSpec): LinuxResources {
  const resources: LinuxResources = { ...(spec.linux?.resources ?? {}) };
  if (resources.devices && resources.devices.length > 0) {
    const specNodes = (spec.linux?.devices ?? [])
      .filter((d) => d.type === 'c' || d.type === 'b' || d.type === 'u')
      .map((d): DeviceRule => ({ allow: true, type: d.type === 'b' ? 'b' : 'c', major: d.major ?? null, minor: d.minor ?? null, access: 'rwm' }));
    resources.devices = [...resources.devices, ...ALWAYS_ALLOWED, ...specNodes];
  }
  return resources;
}
