/**
 * `bctr tasks|task|t ls|start|kill|ps|pause|resume|rm|attach` (exec and metrics are in tasks-exec.ts and
 * tasks-metrics.ts), as ctr's commands/tasks.
 */
import type { Command } from 'commander';
import type { Client } from '../client';
import { withClient, print, println } from './common';
import {
  loadContainer,
  loadTask,
  specOf,
  newTask,
  deleteTask,
  deleteExec,
  attachExisting,
  Attachment,
  startAndWait,
  ProcessHandle,
  STOP_SIGNAL_LABEL,
} from './task-lifecycle';
import { register as registerExec } from './tasks-exec';
import { register as registerMetrics } from './tasks-metrics';
import { Tabwriter } from '../format/tabwriter';
import { decodeAnyLossless } from '../format/protojson';
import { Console } from '../io/console';
import { parseSignal } from '../io/signals';
import { ExitStatus, UsageError } from '../errors';
import { messageOf } from '../../pkg/errdefs';
import { log } from '../log';
import type * as T from '../types';

export function tasksTable(tasks: T.Process[]): string {
  const w = new Tabwriter({ minwidth: 4, tabwidth: 8, padding: 4 });
  w.line('TASK\tPID\tSTATUS\t');
  for (const t of tasks) w.line(`${t.id}\t${t.pid}\t${t.status}`);
  return w.flush();
}

/** gogo's String() of the runc shim's ProcessDetails, which ctr prints with %+v. */
function processInfo(p: T.ProcessInfo): string {
  if (!p.info) return '-';
  try {
    const d = decodeAnyLossless(p.info);
    const fields = d.type.fieldsArray.map((f) => `${f.name.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase()).replace(/Id$/, 'ID')}:${String(d.value[f.name] ?? '')}`);
    return `&${d.type.name}{${fields.join(',')},XXX_unrecognized:[],}`;
  } catch {
    return '-';
  }
}

export function psTable(processes: T.ProcessInfo[]): string {
  const w = new Tabwriter({ minwidth: 1, tabwidth: 8, padding: 4 });
  w.line('PID\tINFO');
  for (const p of processes) w.line(`${p.pid}\t${processInfo(p)}`);
  return w.flush();
}

async function containerAndTask(client: Client, id: string | undefined): Promise<T.Process> {
  await loadContainer(client, id ?? '');
  return loadTask(client, id ?? '');
}

function registerSimple(tasks: Command, name: string, description: string, fn: (client: Client, id: string) => Promise<unknown>): void {
  tasks
    .command(name)
    .description(description)
    .usage('CONTAINER')
    .argument('[id]')
    .action(async (id: string | undefined, _f: object, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await containerAndTask(client, id);
        await fn(client, id ?? '');
      });
    });
}

export function register(program: Command): void {
  const tasks = program.command('tasks').aliases(['t', 'task']).description('manage tasks');

  tasks
    .command('attach')
    .description('attach to the IO of a running container')
    .usage('CONTAINER')
    .argument('[id]')
    .action(async (id: string | undefined, _f: object, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const container = await loadContainer(client, id ?? '');
        const tty = !!specOf(container).process?.terminal;
        let con: Console | undefined;
        try {
          if (tty) {
            con = Console.current();
            con.setRaw();
          }
          const p = await loadTask(client, container.id);
          const h = attachExisting(client, container.id, p, true);
          const attachment = new Attachment(h, con);
          try {
            const exited = h.wait();
            attachment.started();
            const status = await attachment.wait(exited);
            if (status.exit_status !== 0) throw new ExitStatus(status.exit_status);
          } finally {
            attachment.stop();
            await deleteTask(h).catch(() => undefined);
            await h.releaseIO();
          }
        } finally {
          con?.reset();
        }
      });
    });

  tasks
    .command('delete')
    .aliases(['del', 'remove', 'rm'])
    .description('delete one or more tasks')
    .usage('[command options] CONTAINER [CONTAINER, ...]')
    .option('-f, --force', 'force delete task process')
    .option('--exec-id <value>', 'process ID to kill')
    .argument('[ids...]')
    .action(async (ids: string[], f: { force?: boolean; execId?: string }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        if (f.execId) {
          await containerAndTask(client, ids[0]);
          const { process } = await client.tasks.Get({ container_id: ids[0], exec_id: f.execId });
          const h = new ProcessHandle(client, ids[0], f.execId, undefined, undefined, process?.pid ?? 0);
          const res = await deleteExec(h, !!f.force);
          if (res.exit_status !== 0) throw new ExitStatus(res.exit_status);
          return;
        }
        let first: unknown;
        for (const id of ids) {
          let h: ProcessHandle;
          try {
            h = attachExisting(client, id, await containerAndTask(client, id), false);
          } catch (err) {
            first ??= err;
            log('error', `failed to load task from ${id}`, { error: messageOf(err) });
            continue;
          }
          try {
            const res = await deleteTask(h, !!f.force);
            if (res.exit_status !== 0) log('warning', `task ${id} exit with non-zero exit code ${res.exit_status}`);
          } catch (err) {
            first ??= err;
            log('error', `unable to delete ${id}`, { error: messageOf(err) });
          }
        }
        if (first) throw first;
      });
    });

  registerExec(tasks);

  tasks
    .command('list')
    .alias('ls')
    .description('list tasks')
    .option('-q, --quiet', 'print only the task id')
    .action(async (f: { quiet?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const res = await client.tasks.List({});
        if (f.quiet) for (const t of res.tasks) println(t.id);
        else print(tasksTable(res.tasks));
      });
    });

  tasks
    .command('kill')
    .description('signal a container (default: SIGTERM)')
    .usage('[command options] [flags] CONTAINER')
    .option('-s, --signal <value>', 'signal to send to the container')
    .option('--exec-id <value>', 'process ID to kill')
    .option('-a, --all', 'send signal to all processes inside the container')
    .argument('[id]')
    .action(async (id: string | undefined, f: { signal?: string; execId?: string; all?: boolean }, cmd: Command) => {
      if (!id) throw new UsageError('container id must be provided');
      if (f.all && f.execId) throw new UsageError('specify an exec-id or all; not both');
      await withClient(cmd, async (client) => {
        const container = await loadContainer(client, id);
        const stop = container.labels?.[STOP_SIGNAL_LABEL];
        const signal = parseSignal(f.signal || stop || 'SIGTERM');
        await loadTask(client, id);
        await client.tasks.Kill({ container_id: id, exec_id: f.execId ?? '', signal, all: !!f.all });
      });
    });

  registerSimple(tasks, 'pause', 'pause an existing container', (client, id) => client.tasks.Pause({ container_id: id }));

  tasks
    .command('ps')
    .description('list processes for container')
    .usage('CONTAINER')
    .argument('[id]')
    .action(async (id: string | undefined, _f: object, cmd: Command) => {
      if (!id) throw new UsageError('container id must be provided');
      await withClient(cmd, async (client) => {
        await containerAndTask(client, id);
        const res = await client.tasks.ListPids({ container_id: id });
        print(psTable(res.processes));
      });
    });

  registerSimple(tasks, 'resume', 'resume a paused container', (client, id) => client.tasks.Resume({ container_id: id }));

  tasks
    .command('start')
    .description('start a container that has been created')
    .usage('[command options] CONTAINER')
    .option('--null-io', 'send all IO to /dev/null')
    .option('--fifo-dir <value>', 'directory used for storing IO FIFOs')
    .option('--pid-file <value>', "file path to write the task's pid")
    .option('-d, --detach', 'detach from the task after it has started execution')
    .option('--no-pivot', 'disable use of pivot-root (linux only)')
    .argument('[id]')
    .action(async (id: string | undefined, f: { nullIo?: boolean; fifoDir?: string; pidFile?: string; detach?: boolean; pivot?: boolean }, cmd: Command) => {
      if (!id) throw new UsageError('container id must be provided');
      await withClient(cmd, async (client) => {
        const container = await loadContainer(client, id);
        const tty = !!specOf(container).process?.terminal;
        let con: Console | undefined;
        try {
          if (tty) {
            con = Console.current();
            con.setRaw();
          }
          const task = await newTask(client, container, { tty, nullIO: f.nullIo, fifoDir: f.fifoDir }, f.pivot === false);
          await startAndWait(task, con, f);
        } finally {
          con?.reset();
        }
      });
    });

  registerMetrics(tasks);
}
