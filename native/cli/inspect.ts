/**
 * Looking at a container: `ps` (its processes, as `ps -ef` lines or a JSON list of host pids) and
 * `events` (runc's stats and OOM events as JSON lines: once with --stats, else every --interval).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { messageOf } from '../../pkg/errdefs';
import { CliError, loadContainer, type GlobalOptions } from './context';
import { oomKills, runcStats } from './stats';

export async function ps(g: GlobalOptions, id: string, psArgs: string[], opts: { format?: string }): Promise<void> {
  const c = await loadContainer(g, id);
  const pids = await c.processes().catch(() => [] as number[]);
  const format = opts.format ?? 'table';
  if (format === 'json') {
    process.stdout.write(JSON.stringify(pids) + '\n');
    return;
  }
  if (format !== 'table') throw new CliError('invalid format option');
  const args = psArgs.length ? psArgs : ['-ef'];
  let out: string;
  try {
    out = (await promisify(execFile)('ps', args, { maxBuffer: 64 << 20 })).stdout;
  } catch (err) {
    throw new CliError(`ps: ${messageOf(err)}`);
  }
  const lines = out.split('\n');
  const header = lines[0] ?? '';
  const pidIndex = header.trim().split(/\s+/).indexOf('PID');
  if (pidIndex < 0) throw new CliError(`couldn't find PID field in ps output`);
  const want = new Set(pids);
  const rows = lines.slice(1).filter((l) => l.trim() !== '' && want.has(Number(l.trim().split(/\s+/)[pidIndex])));
  process.stdout.write([header, ...rows].join('\n') + '\n');
}

export async function events(g: GlobalOptions, id: string, opts: { stats?: boolean; interval?: string }): Promise<void> {
  const c = await loadContainer(g, id);
  const emit = (type: string, data?: unknown): void => {
    process.stdout.write(JSON.stringify({ type, id, ...(data === undefined ? {} : { data }) }) + '\n');
  };
  const { status } = await c.state();
  if (status === 'stopped') throw new CliError(`container with id ${id} is not running`);
  if (opts.stats) {
    emit('stats', runcStats(await c.stats()));
    return;
  }
  const intervalMs = parseDuration(opts.interval ?? '5s');
  let ooms = oomKills(await c.stats());
  for (;;) {
    const st = await c.state();
    if (st.status === 'stopped') return;
    const metrics = await c.stats();
    const now = oomKills(metrics);
    if (now > ooms) emit('oom');
    ooms = now;
    emit('stats', runcStats(metrics));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Go durations as runc takes them: "5s", "500ms", "1m". */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s.trim());
  if (!m) throw new CliError(`invalid value "${s}" for flag -interval: parse error`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  const ms = Number(m[1]) * unit;
  if (ms <= 0) throw new CliError('duration interval must be greater than 0');
  return ms;
}
