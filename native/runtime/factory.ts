/**
 * The Factory creates and loads containers under a state root (`<stateRoot>/<id>/state.json`).
 * `create` validates the id and the spec and records the container ('creating'); no process exists yet.
 */
import fs from 'node:fs/promises';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { AlreadyExists, InvalidArgument } from '../../pkg/errdefs';
import { validateIdentifier } from '../../pkg/identifiers';
import { Container } from './container';
import { defaultInitBinary } from './init-binary';
import { readBundleSpec, validateSpec } from './spec';
import type { OciSpec } from './spec-types';
import { containerDir, readState, writeState, type PersistedState } from './state';

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

export interface FactoryOptions {
  stateRoot: string;
  /** default: <repo>/native/init/build/berth-init */
  initBinary?: string;
  /** default: /sys/fs/cgroup */
  cgroupRoot?: string;
  /** default true: this process waits for container processes (Process.wait); false for berth-runc */
  reap?: boolean;
  /** when prestart hooks run: 'create' (default, as runc) or 'start' (runtime-spec 1.0; berth-runc) */
  prestartAt?: 'create' | 'start';
}

export class Factory {
  readonly stateRoot: string;
  readonly initBinary: string;
  readonly cgroupRoot: string;
  readonly reap: boolean;
  readonly prestartAt: 'create' | 'start';

  constructor(opts: FactoryOptions) {
    this.stateRoot = path.resolve(opts.stateRoot);
    this.initBinary = opts.initBinary ?? defaultInitBinary();
    this.cgroupRoot = opts.cgroupRoot ?? DEFAULT_CGROUP_ROOT;
    this.reap = opts.reap ?? true;
    this.prestartAt = opts.prestartAt ?? 'create';
  }

  private get ctx() {
    return { stateRoot: this.stateRoot, initBinary: this.initBinary, reap: this.reap, prestartAt: this.prestartAt };
  }

  async create(id: string, opts: { bundle: string; spec?: OciSpec }): Promise<Container> {
    validateIdentifier(id);
    if (typeof opts.bundle !== 'string' || opts.bundle === '') throw new InvalidArgument(`container ${id}: bundle is required`);
    const bundle = path.resolve(opts.bundle);
    const spec = structuredClone(opts.spec ?? (await readBundleSpec(bundle)));
    const rootfs = await validateSpec(spec, bundle);
    const dir = containerDir(this.stateRoot, id);
    try {
      try {
        mkdirSync(dir, { mode: 0o711 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        mkdirSync(this.stateRoot, { recursive: true, mode: 0o711 });
        mkdirSync(dir, { mode: 0o711 });
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExists(`container ${id}: already exists`);
      throw err;
    }
    const state: PersistedState = {
      version: 1, id, bundle, rootfs, status: 'creating', pid: 0, pidStartTime: 0, created: new Date().toISOString(),
      annotations: { ...(spec.annotations ?? {}) }, cgroupsPath: spec.linux?.cgroupsPath || `/${id}`, // as runc: the id under the cgroup root, no shared parent left behind
      cgroupRoot: this.cgroupRoot, spec,
    };
    try {
      await writeState(dir, state);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return new Container(this.ctx, state);
  }

  async load(id: string): Promise<Container> {
    validateIdentifier(id);
    const state = await readState(containerDir(this.stateRoot, id), id);
    return new Container(this.ctx, state);
  }

  /** Ids of the containers recorded under the state root. */
  async list(): Promise<string[]> {
    let entries;
    try {
      entries = await fs.readdir(this.stateRoot, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const ids: string[] = [];
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      try {
        await fs.access(path.join(this.stateRoot, e.name, 'state.json'));
        ids.push(e.name);
      } catch {}
    }
    return ids.sort();
  }
}
