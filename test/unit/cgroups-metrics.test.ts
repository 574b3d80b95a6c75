/**
 * cgroup statistics from fake v1 and v2 trees, and their wire shape: the objects have exactly the fields of
 * io.containerd.cgroups.v1.Metrics / v2.Metrics (checked at compile time against proto/gen and at run time by
 * encoding with protobufjs and decoding back unchanged).
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { openCgroup, metricsTypeName, type V1Metrics, type V2Metrics } from '../../native/cgroups';
import { parseBlkioEntries } from '../../native/cgroups/v1-stats';
import { parseIoStat } from '../../native/cgroups/v2-stats';
import { UNLIMITED } from '../../native/cgroups/files';
import { decodeMessage, encodeMessage } from '../../proto/loader';
import type { Metrics__Output as GenV1Metrics } from '../../proto/gen/io/containerd/cgroups/v1/Metrics';
import type { Metrics__Output as GenV2Metrics } from '../../proto/gen/io/containerd/cgroups/v2/Metrics';
import { makeV1Root, makeV2Root, type FakeRoot } from './cgroups-fake';

// Compile-time: our interfaces and the generated decode types are assignable both ways (same fields, same shapes).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const v1Same: Same<V1Metrics, GenV1Metrics> = true;
const v2Same: Same<V2Metrics, GenV2Metrics> = true;

const P = '/berth/default/web1';
let fakes: FakeRoot[] = [];
afterEach(() => {
  for (const f of fakes) f.remove();
  fakes = [];
});

const V1_MEMORY_STAT = `cache 4096
rss 1048576
rss_huge 0
shmem 0
mapped_file 8192
dirty 0
writeback 0
swap 0
pgpgin 300
pgpgout 44
pgfault 1200
pgmajfault 3
inactive_anon 1040000
active_anon 8576
inactive_file 4096
active_file 0
unevictable 0
hierarchical_memory_limit 67108864
hierarchical_memsw_limit 9223372036854771712
total_cache 4096
total_rss 1048576
total_pgpgin 300
total_pgfault 1200
total_unevictable 0
`;

function roundTrip(obj: object, type: string): void {
  const decoded = decodeMessage(type, encodeMessage(type, obj));
  assert.deepEqual(decoded, obj);
}

describe('cgroups metrics', () => {
  it('v1: reads cpu, memory, pids, blkio, hugetlb and oom_control', async () => {
    const f = makeV1Root();
    fakes.push(f);
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    const w = (rel: string, s: string): void => f.write(rel.replace('$', P), s);
    w('cpuacct$/cpuacct.usage', '123456789\n');
    w('cpuacct$/cpuacct.usage_percpu', '100000000 23456789 \n');
    w('cpuacct$/cpuacct.stat', 'user 7\nsystem 3\n');
    w('cpu$/cpu.stat', 'nr_periods 10\nnr_throttled 4\nthrottled_time 5000\nnr_bursts 0\nburst_time 0\n');
    w('memory$/memory.stat', V1_MEMORY_STAT);
    w('memory$/memory.usage_in_bytes', '1052672');
    w('memory$/memory.max_usage_in_bytes', '2000000');
    w('memory$/memory.limit_in_bytes', '67108864');
    w('memory$/memory.failcnt', '2');
    w('memory$/memory.memsw.usage_in_bytes', '1052672');
    w('memory$/memory.kmem.tcp.limit_in_bytes', '9223372036854771712');
    w('memory$/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    w('pids$/pids.current', '3');
    w('pids$/pids.max', 'max');
    w('blkio$/blkio.throttle.io_service_bytes_recursive', '254:250 Read 4096\n254:250 Write 8192\n254:250 Sync 0\n254:250 Async 12288\n254:250 Discard 0\n254:250 Total 12288\nTotal 12288\n');
    w('blkio$/blkio.throttle.io_serviced_recursive', '254:250 Read 1\n254:250 Write 2\nTotal 3\n');
    w('hugetlb$/hugetlb.2MB.usage_in_bytes', '2097152');
    w('hugetlb$/hugetlb.2MB.max_usage_in_bytes', '4194304');
    w('hugetlb$/hugetlb.2MB.failcnt', '1');
    w('hugetlb$/hugetlb.2MB.limit_in_bytes', '9223372036854771712');

    const s = await cg.stats();
    assert.equal(s.version, 1);
    assert.equal(metricsTypeName(s), 'io.containerd.cgroups.v1.Metrics');
    const m = s.metrics as V1Metrics;
    assert.deepEqual(m.cpu, {
      usage: { total: 123456789, user: 70_000_000, kernel: 30_000_000, per_cpu: [100000000, 23456789] },
      throttling: { periods: 10, throttled_periods: 4, throttled_time: 5000 },
    });
    assert.equal(m.memory!.rss, 1048576);
    assert.equal(m.memory!.pg_pg_in, 300);
    assert.equal(m.memory!.pg_maj_fault, 3);
    assert.equal(m.memory!.hierarchical_swap_limit, 9223372036854771712);
    assert.equal(m.memory!.total_pg_fault, 1200);
    assert.deepEqual(m.memory!.usage, { usage: 1052672, max: 2000000, limit: 67108864, failcnt: 2 });
    assert.deepEqual(m.memory!.swap, { usage: 1052672, max: 0, limit: 0, failcnt: 0 });
    assert.equal(m.memory!.kernel_tcp!.limit, 9223372036854771712);
    assert.deepEqual(m.memory_oom_control, { oom_kill_disable: 0, under_oom: 0, oom_kill: 1 });
    assert.deepEqual(m.pids, { current: 3, limit: 0 });
    assert.deepEqual(m.blkio!.io_serviced_recursive.map((e) => [e.op, e.major, e.minor, e.value]), [['Read', 254, 250, 1], ['Write', 254, 250, 2]]);
    assert.equal(m.blkio!.io_service_bytes_recursive.length, 6);
    assert.deepEqual(m.hugetlb, [{ usage: 2097152, max: 4194304, failcnt: 1, pagesize: '2MB' }]);
    assert.equal(m.rdma, null);
    assert.deepEqual(m.network, []);
    roundTrip(m, 'io.containerd.cgroups.v1.Metrics');
    assert.ok(v1Same);
  });

  it('v1: a host without some controllers leaves their fields null', async () => {
    const f = makeV1Root(['memory']);
    fakes.push(f);
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    const m = (await cg.stats()).metrics as V1Metrics;
    assert.equal(m.cpu, null);
    assert.equal(m.pids, null);
    assert.equal(m.blkio, null);
    assert.deepEqual(m.hugetlb, []);
    assert.ok(m.memory);
    roundTrip(m, 'io.containerd.cgroups.v1.Metrics');
  });

  it('v1: parses blkio lines with and without an op, names devices from /proc/partitions', () => {
    const names = new Map([['8:0', '/dev/sda']]);
    assert.deepEqual(parseBlkioEntries('8:0 Read 10\n8:0 77\nTotal 10\n', names), [
      { op: 'Read', device: '/dev/sda', major: 8, minor: 0, value: 10 },
      { op: '', device: '/dev/sda', major: 8, minor: 0, value: 77 },
    ]);
  });

  it('v2: reads pids, cpu, memory, memory events, io and hugetlb', async () => {
    const f = makeV2Root();
    fakes.push(f);
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    const w = (file: string, s: string): void => f.write(`${P}/${file}`, s);
    w('pids.current', '4');
    w('pids.max', 'max');
    w('cpu.stat', 'usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 9\nnr_throttled 1\nthrottled_usec 77\n');
    w('memory.stat', 'anon 1000\nfile 2000\nkernel_stack 16384\nslab 300\nsock 0\nshmem 0\npgfault 50\npgmajfault 1\nworkingset_refault_anon 2\nworkingset_refault_file 3\nthp_fault_alloc 0\n');
    w('memory.current', '3500');
    w('memory.max', 'max');
    w('memory.swap.current', '0');
    w('memory.swap.max', '1048576');
    w('memory.events', 'low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n');
    w('io.stat', '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n');
    w('hugetlb.2MB.current', '0');
    w('hugetlb.2MB.max', '2097152');
    const s = await cg.stats();
    assert.equal(s.version, 2);
    assert.equal(metricsTypeName(s), 'io.containerd.cgroups.v2.Metrics');
    const m = s.metrics as V2Metrics;
    assert.deepEqual(m.pids, { current: 4, limit: 0 });
    assert.deepEqual(m.cpu, { usage_usec: 5000, user_usec: 3000, system_usec: 2000, nr_periods: 9, nr_throttled: 1, throttled_usec: 77 });
    assert.equal(m.memory!.anon, 1000);
    assert.equal(m.memory!.kernel_stack, 16384);
    assert.equal(m.memory!.workingset_refault, 5);
    assert.equal(m.memory!.usage, 3500);
    assert.equal(m.memory!.usage_limit, UNLIMITED);
    assert.equal(m.memory!.swap_limit, 1048576);
    assert.deepEqual(m.memory_events, { low: 0, high: 0, max: 4, oom: 2, oom_kill: 1 });
    assert.deepEqual(m.io, { usage: [{ major: 8, minor: 0, rbytes: 4096, wbytes: 8192, rios: 1, wios: 2 }] });
    assert.deepEqual(m.hugetlb, [{ current: 0, max: 2097152, pagesize: '2MB' }]);
    roundTrip(m, 'io.containerd.cgroups.v2.Metrics');
    assert.ok(v2Same);
  });

  it('v2: an empty group still encodes (zero stats, no memory events)', async () => {
    const f = makeV2Root([]);
    fakes.push(f);
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    const m = (await cg.stats()).metrics as V2Metrics;
    assert.equal(m.memory_events, null);
    assert.deepEqual(m.io, { usage: [] });
    roundTrip(m, 'io.containerd.cgroups.v2.Metrics');
    assert.deepEqual(parseIoStat('garbage\n8:16 rbytes=1\n'), [{ major: 8, minor: 16, rbytes: 1, wbytes: 0, rios: 0, wios: 0 }]);
  });
});
