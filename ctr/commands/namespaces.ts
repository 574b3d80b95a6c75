/** `bctr namespaces|namespace|ns create|ls|rm|label`, as ctr's commands/namespaces. */
import type { Command } from 'commander';
import { withClient, objectWithLabelArgs, println, print } from './common';
import { Tabwriter } from '../format/tabwriter';
import { UsageError } from '../errors';
import { isNotFound, messageOf } from '../../pkg/errdefs';
import { log } from '../log';

export function register(program: Command): void {
  const ns = program.command('namespaces').aliases(['namespace', 'ns']).description('manage namespaces');

  ns.command('create')
    .alias('c')
    .description('create a new namespace. it must be unique')
    .usage('<name> [<key>=<value>]')
    .argument('[args...]')
    .action(async (args: string[], _opts: object, cmd: Command) => {
      const [name, labels] = objectWithLabelArgs(args);
      if (name === '') throw new UsageError('please specify a namespace');
      await withClient(cmd, (client) => client.namespaces.Create({ namespace: { name, labels } }));
    });

  ns.command('list')
    .alias('ls')
    .description('list namespaces')
    .option('-q, --quiet', 'print only the namespace name')
    .action(async (opts: { quiet?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const { namespaces } = await client.namespaces.List({});
        if (opts.quiet) {
          for (const n of namespaces) println(n.name);
          return;
        }
        const tw = new Tabwriter({ minwidth: 1, tabwidth: 8, padding: 1 });
        tw.line('NAME\tLABELS\t');
        for (const n of namespaces) {
          const labels = Object.entries(n.labels ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .sort();
          tw.line(`${n.name}\t${labels.join(',')}\t`);
        }
        print(tw.flush());
      });
    });

  ns.command('remove')
    .alias('rm')
    .description('remove one or more namespaces. for now, the namespace must be empty')
    .usage('[command options] <name> [<name>, ...]')
    .option('-c, --cgroup', "delete the namespace's cgroup (accepted for compatibility; berthd removes it)")
    .argument('[names...]')
    .action(async (names: string[], _opts: object, cmd: Command) => {
      await withClient(cmd, async (client) => {
        let first: Error | undefined;
        for (const target of names) {
          try {
            await client.namespaces.Delete({ name: target });
          } catch (err) {
            if (!isNotFound(err)) {
              first ??= new Error(`unable to delete ${target}: ${messageOf(err)}`);
              log('error', `unable to delete ${target}`, { error: messageOf(err) });
              continue;
            }
          }
          println(target);
        }
        if (first) throw first;
      });
    });

  ns.command('label')
    .description('set and clear labels for a namespace. empty value clears the label')
    .usage('<name> [<key>=<value>, ...]')
    .argument('[args...]')
    .action(async (args: string[], _opts: object, cmd: Command) => {
      const [name, labels] = objectWithLabelArgs(args);
      if (name === '') throw new UsageError('please specify a namespace');
      await withClient(cmd, async (client) => {
        for (const [k, v] of Object.entries(labels)) {
          await client.namespaces.Update({ namespace: { name, labels: { [k]: v } }, update_mask: { paths: [`labels.${k}`] } });
        }
      });
    });
}
