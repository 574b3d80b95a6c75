/**
 * `bctr tasks metrics|metric [--format table|json] CONTAINER`: the task's cgroup statistics, decoded from
 * the `io.containerd.cgroups.v1.Metrics` or `io.containerd.cgroups.v2.Metrics` Any, printed as ctr does.
 */
import type { Command } from 'commander';
import type * as T from '../types';
import { withClient, print, println } from './common';
import { loadContainer, loadTask } from './task-lifecycle';
import { Tabwriter } from '../format/tabwriter';
import { decodeAnyLossless, toGoJsonValue, type DecodedAny } from '../format/protojson';
import { goMarshalIndent } from '../format/gojson';
import { formatGoTimeString } from '../format/gotime';
import { UsageError } from '../errors';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' ? (v as Obj) : undefined);
const num = (v: unknown): string => (v === undefined || v === null ? '0' : String(v));

function v1Rows(m: Obj): [string, string][] {
  const rows: [string, string][] = [];
  const memory = obj(m.memory);
  if (memory) {
    rows.push(['memory.usage_in_bytes', num(obj(memory.usage)?.usage)]);
    rows.push(['memory.limit_in_bytes', num(obj(memory.usage)?.limit)]);
    rows.push(['memory.stat.cache', num(memory.total_cache)]);
  }
  const cpu = obj(m.cpu);
  if (cpu) {
    rows.push(['cpuacct.usage', num(obj(cpu.usage)?.total)]);
    rows.push(['cpuacct.usage_percpu', `[${((obj(cpu.usage)?.per_cpu as unknown[]) ?? []).map(num).join(' ')}]`]);
  }
  const pids = obj(m.pids);
  if (pids) {
    rows.push(['pids.current', num(pids.current)]);
    rows.push(['pids.limit', num(pids.limit)]);
  }
  return rows;
}

function v2Rows(m: Obj): [string, string][] {
  const rows: [string, string][] = [];
  const pids = obj(m.pids);
  if (pids) rows.push(['pids.current', num(pids.current)], ['pids.limit', num(pids.limit)]);
  const cpu = obj(m.cpu);
  if (cpu) {
    for (const k of ['usage_usec', 'user_usec', 'system_usec', 'nr_periods', 'nr_throttled', 'throttled_usec']) {
      rows.push([`cpu.${k}`, num(cpu[k])]);
    }
  }
  const memory = obj(m.memory);
  if (memory) {
    for (const k of ['usage', 'usage_limit', 'swap_usage', 'swap_limit']) rows.push([`memory.${k}`, num(memory[k])]);
  }
  return rows;
}

/** The table ctr prints for one metric. */
export function metricsTable(metric: T.Metric, data: DecodedAny): string {
  const w = new Tabwriter({ minwidth: 1, tabwidth: 8, padding: 4 });
  w.write('ID\tTIMESTAMP\t\n');
  w.write(`${metric.id}\t${formatGoTimeString(metric.timestamp)}\t\n\n`);
  const rows = data.typeName === 'io.containerd.cgroups.v1.Metrics' ? v1Rows(data.value) : v2Rows(data.value);
  w.write('METRIC\tVALUE\t\n');
  for (const [k, v] of rows) w.write(`${k}\t${v}\t\n`);
  return w.flush();
}

export function decodeMetrics(metric: T.Metric): DecodedAny {
  const bad = new Error('cannot convert metric data to cgroups.Metrics or windows.Statistics');
  if (!metric.data) throw bad;
  const d = decodeAnyLossless(metric.data);
  if (d.typeName !== 'io.containerd.cgroups.v1.Metrics' && d.typeName !== 'io.containerd.cgroups.v2.Metrics') throw bad;
  return d;
}

export function register(tasks: Command): void {
  tasks
    .command('metrics')
    .alias('metric')
    .description('get a single data point of metrics for a task with the built-in Linux runtime')
    .usage('[command options] CONTAINER')
    .option('--format <value>', '"table" or "json"', 'table')
    .argument('[id]')
    .action(async (id: string | undefined, f: { format: string }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await loadContainer(client, id ?? '');
        await loadTask(client, id ?? '');
        const res = await client.tasks.Metrics({ filters: [`id==${id}`] });
        if (res.metrics.length === 0) throw new Error('no metrics received');
        const metric = res.metrics[0];
        const data = decodeMetrics(metric);
        if (f.format === 'table') print(metricsTable(metric, data));
        else if (f.format === 'json') println(goMarshalIndent(toGoJsonValue(data.type, data.value), '  '));
        else throw new UsageError('format must be table or json');
      });
    });
}
