/** `bctr plugins|plugin ls [-q] [-d] [filter...]`, as ctr's commands/plugins. */
import type { Command } from 'commander';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type * as T from '../types';
import { withClient, print, println } from './common';
import { Tabwriter } from '../format/tabwriter';

/** containerd's platforms.Format of each platform, de-duplicated and sorted, joined by commas. */
export function prettyPlatforms(platforms: T.Plugin['platforms']): string {
  const set = new Set(platforms.map((p) => (p.os === '' ? 'unknown' : [p.os, p.architecture, p.variant].filter((x) => x).join('/'))));
  return [...set].sort().join(',');
}

/** ok, skip (the init error says "skip plugin") or error. */
export function pluginStatus(p: T.Plugin): string {
  if (!p.init_err) return 'ok';
  return p.init_err.message.includes('skip plugin') ? 'skip' : 'error';
}

/** grpc codes.Code(n).String(). */
function codeName(code: number): string {
  const name = Object.entries(GrpcStatus).find(([, v]) => v === code)?.[0];
  if (!name) return `Code(${code})`;
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('')
    .replace(/^Ok$/, 'OK')
    .replace('Cancelled', 'Canceled');
}

export function pluginsTable(plugins: T.Plugin[], detailed: boolean): string {
  const w = new Tabwriter({ minwidth: 4, tabwidth: 8, padding: 4 });
  if (detailed) {
    plugins.forEach((p, i) => {
      if (i > 0) w.line('\t\t\t');
      w.line(`Type:\t ${p.type}`);
      w.line(`ID:\t ${p.id}`);
      if (p.requires.length > 0) {
        w.line('Requires:\t');
        for (const r of p.requires) w.line(`\t ${r}`);
      }
      if (p.platforms.length > 0) w.line(`Platforms:\t ${prettyPlatforms(p.platforms)}`);
      const exports = Object.keys(p.exports ?? {}).sort();
      if (exports.length > 0) {
        w.line('Exports:\t');
        for (const k of exports) w.line(`\t ${k} \t ${p.exports[k]}`);
      }
      if (p.capabilities.length > 0) w.line(`Capabilities:\t ${p.capabilities.join(',')}`);
      if (p.init_err) {
        w.line('Error:\t');
        w.line(`\t Code:\t ${codeName(p.init_err.code)}`);
        w.line(`\t Message:\t ${p.init_err.message}`);
      }
    });
    return w.flush();
  }
  w.line('TYPE\tID\tPLATFORMS\tSTATUS\t');
  for (const p of plugins) {
    w.line(`${p.type}\t${p.id}\t${p.platforms.length > 0 ? prettyPlatforms(p.platforms) : '-'}\t${pluginStatus(p)}\t`);
  }
  return w.flush();
}

export function register(program: Command): void {
  const plugins = program.command('plugins').alias('plugin').description('provides information about containerd plugins');
  plugins
    .command('list')
    .alias('ls')
    .description('lists containerd plugins')
    .option('-q, --quiet', 'print only the plugin ids')
    .option('-d, --detailed', 'print detailed information about each plugin')
    .argument('[filters...]')
    .action(async (filters: string[], f: { quiet?: boolean; detailed?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const res = await client.introspection.Plugins({ filters });
        if (f.quiet) {
          for (const p of res.plugins) println(p.id);
          return;
        }
        print(pluginsTable(res.plugins, !!f.detailed));
      });
    });
}
