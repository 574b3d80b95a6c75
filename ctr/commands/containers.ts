/** `bctr containers|container|c create|ls|info|rm|label`, as ctr's commands/containers. */
import type { Command } from 'commander';
import type { Client } from '../client';
import type * as T from '../types';
import { withClient, objectWithLabelArgs, print, println } from './common';
import { addContainerFlags, newContainer, type ContainerFlagValues } from './container-flags';
import { loadContainer, loadTask, attachExisting, deleteTask, deleteContainerRecord, statusWord } from './task-lifecycle';
import { Tabwriter } from '../format/tabwriter';
import { goMarshalIndent, sortedMap } from '../format/gojson';
import { formatRFC3339Nano, formatGoTimeString } from '../format/gotime';
import { goSpecValue } from '../spec/schema';
import { unpackJsonAny } from '../../proto/any';
import { errorOfKind, isKind, messageOf } from '../../pkg/errdefs';
import { UsageError } from '../errors';
import { log } from '../log';

/** client.Containers(ctx, filters...): ListStream, or List when the daemon does not implement it. */
export async function listContainers(client: Client, filters: string[]): Promise<T.Container[]> {
  const out: T.Container[] = [];
  try {
    for await (const msg of client.containers.ListStream({ filters })) if (msg.container) out.push(msg.container);
    return out;
  } catch (err) {
    if (!isKind(err, 'unimplemented')) throw err;
  }
  return (await client.containers.List({ filters })).containers;
}

function anyJson(a: T.AnyOutput | null | undefined): unknown {
  if (!a) return null;
  const m = new Map<string, unknown>();
  if (a.type_url) m.set('type_url', a.type_url);
  if (a.value && a.value.length > 0) m.set('value', Buffer.from(a.value).toString('base64'));
  return m;
}

/** The Go containers.Container struct ctr prints for `containers info` (Spec replaced by the parsed spec). */
export function containerInfoValue(c: T.Container): Map<string, unknown> {
  const labels = Object.keys(c.labels ?? {}).length > 0 ? sortedMap(c.labels) : null;
  const ext = Object.keys(c.extensions ?? {}).length > 0 ? sortedMap(c.extensions) : null;
  const info = new Map<string, unknown>([
    ['ID', c.id],
    ['Labels', labels],
    ['Image', c.image],
    ['Runtime', new Map<string, unknown>([['Name', c.runtime?.name ?? ''], ['Options', anyJson(c.runtime?.options)]])],
    ['SnapshotKey', c.snapshot_key],
    ['Snapshotter', c.snapshotter],
    ['CreatedAt', formatRFC3339Nano(c.created_at)],
    ['UpdatedAt', formatRFC3339Nano(c.updated_at)],
    ['Extensions', ext && new Map([...ext].map(([k, v]) => [k, anyJson(v)]))],
  ]);
  if (c.spec && c.spec.value && c.spec.value.length > 0) info.set('Spec', goSpecValue(unpackJsonAny(c.spec)));
  else info.set('Spec', anyJson(c.spec));
  return info;
}

/** ctr's deleteContainer: a task that is stopped (or only created) goes first; a live one is refused. */
async function deleteContainer(client: Client, id: string): Promise<void> {
  await loadContainer(client, id);
  let task: T.Process;
  try {
    task = await loadTask(client, id);
  } catch {
    return deleteContainerRecord(client, id);
  }
  const status = statusWord(task.status);
  if (status === 'stopped' || status === 'created') {
    await deleteTask(attachExisting(client, id, task, false));
    return deleteContainerRecord(client, id);
  }
  throw errorOfKind(
    'failed-precondition',
    `cannot delete a non stopped container: {${status} ${task.exit_status} ${formatGoTimeString(task.exited_at)}}`,
  );
}

export function register(program: Command): void {
  const c = program.command('containers').aliases(['c', 'container']).description('manage containers');

  addContainerFlags(
    c.command('create').description('create container').usage('[command options] [flags] Image|RootFS CONTAINER [COMMAND] [ARG...]'),
    false,
  )
    .argument('[args...]')
    .passThroughOptions()
    .action(async (args: string[], f: ContainerFlagValues, cmd: Command) => {
      let id: string | undefined;
      if (f.config) {
        id = args[0];
        if (args.length > 1) throw new UsageError('with spec config file, only container id should be provided: invalid argument');
      } else {
        id = args[1];
        if (!args[0]) throw new UsageError('image ref must be provided: invalid argument');
      }
      if (!id) throw new UsageError('container id must be provided: invalid argument');
      await withClient(cmd, (client) => newContainer(client, args, f, false));
    });

  c.command('delete')
    .aliases(['del', 'remove', 'rm'])
    .description('delete one or more existing containers')
    .usage('[command options] [flags] CONTAINER [CONTAINER, ...]')
    .option('--keep-snapshot', 'do not clean up snapshot with container')
    .argument('[ids...]')
    .action(async (ids: string[], _f: object, cmd: Command) => {
      if (ids.length === 0) throw new UsageError('must specify at least one container to delete: invalid argument');
      await withClient(cmd, async (client) => {
        let first: unknown;
        for (const id of ids) {
          try {
            await deleteContainer(client, id);
          } catch (err) {
            first ??= err;
            log('error', `failed to delete container "${id}"`, { error: messageOf(err) });
          }
        }
        if (first) throw first;
      });
    });

  c.command('info')
    .description('get info about a container')
    .usage('[command options] CONTAINER')
    .option('--spec', 'only display the spec')
    .argument('[id]')
    .action(async (id: string | undefined, f: { spec?: boolean }, cmd: Command) => {
      if (!id) throw new UsageError('container id must be provided: invalid argument');
      await withClient(cmd, async (client) => {
        const container = await loadContainer(client, id);
        if (f.spec) {
          if (!container.spec) throw new Error('empty spec');
          println(goMarshalIndent(goSpecValue(unpackJsonAny(container.spec)), '    '));
          return;
        }
        println(goMarshalIndent(containerInfoValue(container), '    '));
      });
    });

  c.command('list')
    .alias('ls')
    .description('list containers')
    .usage('[command options] [flags] [<filter>, ...]')
    .option('-q, --quiet', 'print only the container id')
    .argument('[filters...]')
    .action(async (filters: string[], f: { quiet?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const containers = await listContainers(client, filters);
        if (f.quiet) {
          for (const x of containers) println(x.id);
          return;
        }
        const w = new Tabwriter({ minwidth: 4, tabwidth: 8, padding: 4 });
        w.line('CONTAINER\tIMAGE\tRUNTIME\t');
        for (const x of containers) w.line(`${x.id}\t${x.image || '-'}\t${x.runtime?.name ?? ''}\t`);
        print(w.flush());
      });
    });

  c.command('label')
    .description('set and clear labels for a container')
    .usage('[flags] CONTAINER [<key>=<value>, ...]')
    .argument('[args...]')
    .action(async (args: string[], _f: object, cmd: Command) => {
      const [id, labels] = objectWithLabelArgs(args);
      if (id === '') throw new UsageError('container id must be provided: invalid argument');
      await withClient(cmd, async (client) => {
        await loadContainer(client, id);
        const { container } = await client.containers.Update({
          container: { id, labels },
          update_mask: { paths: Object.keys(labels).map((k) => `labels.${k}`) },
        });
        println(
          Object.entries(container?.labels ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .sort()
            .join(','),
        );
      });
    });
}
