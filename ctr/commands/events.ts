/**
 * `bctr events [filter...]`: streams the daemon's events as ctr prints them, one line each:
 * `TIMESTAMP NAMESPACE TOPIC EVENT-JSON` (Go's time.String(), then the payload unpacked from its Any and
 * marshalled as ctr's Go code does).
 */
import type { Command } from 'commander';
import type * as T from '../types';
import { withClient, println } from './common';
import { decodeAnyLossless, toGoJsonValue } from '../format/protojson';
import { goMarshal } from '../format/gojson';
import { formatGoTimeString } from '../format/gotime';
import { messageOf } from '../../pkg/errdefs';
import { log } from '../log';

/** One envelope as ctr prints it, or undefined when its payload cannot be decoded (ctr logs and skips it). */
export function eventLine(e: T.Envelope): string | undefined {
  let out = '';
  if (e.event) {
    try {
      const d = decodeAnyLossless(e.event);
      out = goMarshal(toGoJsonValue(d.type, d.value));
    } catch (err) {
      log('warning', 'cannot unmarshal an event from Any', { error: messageOf(err) });
      return undefined;
    }
  }
  return [formatGoTimeString(e.timestamp), e.namespace, e.topic, out].join(' ');
}

export function register(program: Command): void {
  program
    .command('events')
    .alias('event')
    .description('display containerd events')
    .usage('[arguments...]')
    .argument('[filters...]')
    .action(async (filters: string[], _f: object, cmd: Command) => {
      await withClient(cmd, async (client) => {
        for await (const e of client.events.Subscribe({ filters })) {
          const line = eventLine(e);
          if (line !== undefined) println(line);
        }
      });
    });
}
