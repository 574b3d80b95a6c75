/**
 * SIGKILL of berthd in the middle of a burst of writes (creates, updates, deletes from several clients),
 * then a restart: the store opens, every acknowledged write is there, and every record is whole.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBerthd, type TestDaemon } from '../helpers/daemon';
import { OCI_SPEC_TYPE_URL, packJsonAny } from '../../proto/any';

const specOf = (id: string) => packJsonAny(OCI_SPEC_TYPE_URL, { ociVersion: '1.0.2', hostname: id, process: { args: ['/bin/true'] } });

describe('berthd killed during writes', () => {
  let d: TestDaemon | undefined;
  after(async () => {
    await d?.stop();
  });

  it('restarts with a consistent store holding every acknowledged write', async () => {
    d = await startBerthd();
    const acked = new Set<string>();
    const deleted = new Set<string>();
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      const c = d!.client('containers', { namespace: `ns${w}` });
      for (let i = 0; !stop; i++) {
        const id = `w${w}-c${i}`;
        try {
          await c.Create({ container: { id, runtime: { name: 'io.containerd.runc.v2' }, spec: specOf(id), labels: { i: String(i), pad: 'x'.repeat(500) } } });
          acked.add(`ns${w}/${id}`);
          await c.Update({ container: { id, labels: { updated: 'yes' } }, update_mask: { paths: ['labels.updated'] } });
          if (i % 3 === 0) {
            await c.Delete({ id });
            deleted.add(`ns${w}/${id}`);
          }
        } catch {
          return; // the daemon died under us
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    // Kill once a good number of writes went through.
    const deadline = Date.now() + 20_000;
    while (acked.size < 150 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await d.kill();
    stop = true;
    await Promise.all(writers);
    assert.ok(acked.size >= 150, `only ${acked.size} writes before the deadline`);

    await d.restart();
    let found = 0;
    for (let w = 0; w < 4; w++) {
      const list = (await d.client('containers', { namespace: `ns${w}` }).List({})).containers as {
        id: string;
        labels: Record<string, string>;
        spec: { type_url: string; value: Buffer };
        runtime: { name: string };
        created_at: { seconds: number };
      }[];
      const ids = new Set(list.map((c) => `ns${w}/${c.id}`));
      for (const key of acked) {
        if (key.startsWith(`ns${w}/`) && !deleted.has(key)) assert.ok(ids.has(key), `acknowledged ${key} lost`);
      }
      for (const c of list) {
        found++;
        assert.equal(c.runtime.name, 'io.containerd.runc.v2');
        assert.equal(JSON.parse(Buffer.from(c.spec.value).toString()).hostname, c.id, 'spec intact');
        assert.equal(c.labels.pad, 'x'.repeat(500));
        assert.ok(c.created_at.seconds > 0);
        assert.ok(!deleted.has(`ns${w}/${c.id}`), `deleted ${c.id} came back`);
      }
    }
    assert.ok(found > 0);
    // Still writable after recovery.
    await d.client('containers').Create({ container: { id: 'after', runtime: { name: 'io.containerd.runc.v2' }, spec: specOf('after') } });
  });
});
