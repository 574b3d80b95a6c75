/**
 * User namespaces: linux.uidMappings / gidMappings checked at create, written by the runtime into
 * /proc/<pid>/uid_map and gid_map while the new init waits ("waiting" → maps → "go"), as runc's parent does.
 * The container's root is then an unprivileged host id: the exec FIFO is handed to it.
 */
import fs from 'node:fs';
import { InvalidArgument } from '../../pkg/errdefs';
import type { OciSpec } from './spec-types';

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

function mappings(spec: OciSpec, field: 'uidMappings' | 'gidMappings'): IdMapping[] {
  return (spec.linux?.[field] as IdMapping[] | undefined) ?? [];
}

/** Does the spec ask for a new user namespace (one without a path)? */
export function newUserNamespace(spec: OciSpec): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === 'user' && !n.path);
}

export function validateIdMappings(spec: OciSpec): void {
  if (!newUserNamespace(spec)) {
    if (mappings(spec, 'uidMappings').length || mappings(spec, 'gidMappings').length) {
      if (!(spec.linux?.namespaces ?? []).some((n) => n.type === 'user')) throw new InvalidArgument('linux.uidMappings: need a user namespace');
    }
    return;
  }
  for (const field of ['uidMappings', 'gidMappings'] as const) {
    const list = mappings(spec, field);
    if (!Array.isArray(list) || list.length === 0) throw new InvalidArgument(`linux.${field}: a new user namespace needs mappings`);
    if (list.length > 340) throw new InvalidArgument(`linux.${field}: too many mappings`);
    list.forEach((m, i) => {
      for (const k of ['containerID', 'hostID', 'size'] as const) {
        if (!Number.isInteger(m?.[k]) || m[k] < 0 || m[k] > 0xffffffff) throw new InvalidArgument(`linux.${field}[${i}].${k}: must be a non-negative integer`);
      }
      if (m.size === 0) throw new InvalidArgument(`linux.${field}[${i}].size: must not be 0`);
    });
    if (!list.some((m) => m.containerID === 0)) throw new InvalidArgument(`linux.${field}: container id 0 must be mapped`);
  }
}

/** Writes the id maps of the new user namespace of pid (gid_map last, as a convention; both are needed). */
export function writeIdMaps(pid: number, spec: OciSpec): void {
  const text = (list: IdMapping[]): string => list.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
  fs.writeFileSync(`/proc/${pid}/uid_map`, text(mappings(spec, 'uidMappings')));
  fs.writeFileSync(`/proc/${pid}/gid_map`, text(mappings(spec, 'gidMappings')));
}

/** The host ids of the container's root (0 without a new user namespace). */
export function hostRootIds(spec: OciSpec): { uid: number; gid: number } {
  if (!newUserNamespace(spec)) return { uid: 0, gid: 0 };
  const root = (list: IdMapping[]): number => {
    const m = list.find((x) => x.containerID === 0);
    return m ? m.hostID : 0;
  };
  return { uid: root(mappings(spec, 'uidMappings')), gid: root(mappings(spec, 'gidMappings')) };
}
