/**
 * bctr's output formats against text printed by the real ctr 1.6.20 (captured from a containerd on this
 * machine): Go's tabwriter tables, Go time formats, encoding/json of events and metrics, error wording.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { formatTable, Tabwriter } from '../../ctr/format/tabwriter';
import {
  formatRFC3339Nano,
  formatGoTimeString,
  parseGoDuration,
  formatGoDuration,
} from '../../ctr/format/gotime';
import { goMarshal, goMarshalIndent, GoNumber, sortedMap } from '../../ctr/format/gojson';
import { decodeAnyLossless, toGoJsonValue } from '../../ctr/format/protojson';
import { eventLine } from '../../ctr/commands/events';
import { metricsTable, decodeMetrics } from '../../ctr/commands/tasks-metrics';
import { tasksTable, psTable } from '../../ctr/commands/tasks';
import { leasesTable } from '../../ctr/commands/leases';
import { pluginsTable } from '../../ctr/commands/plugins';
import { errorFromGrpc } from '../../ctr/client';
import { packAny } from '../../proto/any';
import { logLine } from '../../ctr/log';

test('tabwriter: containers ls as ctr prints it (minwidth 4, padding 4, trailing tab)', () => {
  const out = formatTable('CONTAINER\tIMAGE\tRUNTIME\t\nc1\t-\tio.containerd.runc.v2\t\n', { minwidth: 4, tabwidth: 8, padding: 4 });
  assert.equal(out, 'CONTAINER    IMAGE    RUNTIME                  \nc1           -        io.containerd.runc.v2    \n');
});

test('tabwriter: rows without a trailing tab leave the last cell unpadded (tasks ls)', () => {
  const out = tasksTable([
    { id: 'r2', pid: 13020, status: 'RUNNING' } as never,
  ]);
  assert.equal(out, 'TASK    PID      STATUS    \nr2      13020    RUNNING\n');
  assert.equal(tasksTable([]), 'TASK    PID    STATUS    \n');
});

test('tabwriter: namespaces ls (minwidth 1, padding 1)', () => {
  const w = new Tabwriter({ minwidth: 1, tabwidth: 8, padding: 1 });
  w.line('NAME\tLABELS\t').line('default\t\t').line('foo\ta=b,x=y\t');
  assert.equal(w.flush(), 'NAME    LABELS  \ndefault         \nfoo     a=b,x=y \n');
});

test('tabwriter: an empty line ends a column block (metrics table, v1)', () => {
  const metric = {
    id: 'r2',
    timestamp: { seconds: 1795455438, nanos: 418248472 },
    data: packAny('io.containerd.cgroups.v1.Metrics', {
      pids: { current: 1, limit: 0 },
      cpu: { usage: { total: 8567695, per_cpu: [6149693, 2418002] }, throttling: {} },
      memory: { total_cache: 0, usage: { limit: '9223372036854771712', usage: 647168 } },
    }),
  };
  const out = metricsTable(metric as never, decodeMetrics(metric as never));
  assert.equal(
    out,
    [
      'ID    TIMESTAMP                                  ',
      'r2    2026-11-23 17:37:18.418248472 +0000 UTC    ',
      '',
      'METRIC                   VALUE                  ',
      'memory.usage_in_bytes    647168                 ',
      'memory.limit_in_bytes    9223372036854771712    ',
      'memory.stat.cache        0                      ',
      'cpuacct.usage            8567695                ',
      'cpuacct.usage_percpu     [6149693 2418002]      ',
      'pids.current             1                      ',
      'pids.limit               0                      ',
      '',
    ].join('\n'),
  );
});

test('metrics: cgroup v2 table and the json format keep every uint64 digit', () => {
  const metric = {
    id: 'x',
    timestamp: { seconds: 0, nanos: 0 },
    data: packAny('io.containerd.cgroups.v2.Metrics', {
      pids: { current: 2, limit: 10 },
      cpu: { usage_usec: 5, user_usec: 3, system_usec: 2 },
      memory: { usage: 4096, usage_limit: '18446744073709551615' },
    }),
  };
  const d = decodeMetrics(metric as never);
  const table = metricsTable(metric as never, d);
  assert.match(table, /^memory\.usage_limit {4,}18446744073709551615 {4}$/m);
  assert.match(table, /^cpu\.nr_throttled +0 +$/m);
  const json = goMarshalIndent(toGoJsonValue(d.type, d.value), '  ');
  assert.match(json, /"usage_limit": 18446744073709551615/);
  assert.ok(!json.includes('"nr_periods"'), 'zero scalars are omitted (omitempty)');
});

test('ps table with the runc shim ProcessDetails info', () => {
  const out = psTable([
    { pid: 28000, info: null },
    { pid: 28266, info: packAny('containerd.runc.v1.ProcessDetails', { exec_id: 'e2' }) },
  ] as never);
  assert.equal(out, 'PID      INFO\n28000    -\n28266    &ProcessDetails{ExecID:e2,XXX_unrecognized:[],}\n');
});

test('leases table: sorted labels, "-" when none, created at in RFC 3339', () => {
  const prevTz = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    const out = leasesTable([
      { id: '790967075-i1li', created_at: { seconds: 1795455448, nanos: 5 }, labels: { 'containerd.io/gc.expire': '2026-11-24T17:37:28Z' } },
      { id: 'l1', created_at: { seconds: 1795455448, nanos: 0 }, labels: { 'containerd.io/gc.expire': '2026-11-24T17:37:28Z', a: 'b' } },
      { id: 'l2', created_at: { seconds: 1795455448, nanos: 0 }, labels: {} },
    ] as never);
    assert.equal(
      out,
      [
        'ID             CREATED AT           LABELS                                           ',
        '790967075-i1li 2026-11-23T17:37:28Z containerd.io/gc.expire=2026-11-24T17:37:28Z     ',
        'l1             2026-11-23T17:37:28Z a=b,containerd.io/gc.expire=2026-11-24T17:37:28Z ',
        'l2             2026-11-23T17:37:28Z -                                                ',
        '',
      ].join('\n'),
    );
  } finally {
    if (prevTz === undefined) delete process.env.TZ;
    else process.env.TZ = prevTz;
  }
});

test('plugins table: platforms, ok/skip/error status', () => {
  const out = pluginsTable(
    [
      { type: 'io.containerd.content.v1', id: 'content', platforms: [], init_err: null },
      { type: 'io.containerd.snapshotter.v1', id: 'aufs', platforms: [{ os: 'linux', architecture: 'amd64', variant: '' }], init_err: { code: 2, message: 'aufs is not supported: skip plugin' } },
      { type: 'io.containerd.snapshotter.v1', id: 'devmapper', platforms: [{ os: 'linux', architecture: 'amd64', variant: '' }], init_err: { code: 2, message: 'devmapper not configured' } },
    ].map((p) => ({ requires: [], exports: {}, capabilities: [], ...p })) as never,
    false,
  );
  assert.equal(
    out,
    [
      'TYPE                            ID           PLATFORMS      STATUS    ',
      'io.containerd.content.v1        content      -              ok        ',
      'io.containerd.snapshotter.v1    aufs         linux/amd64    skip      ',
      'io.containerd.snapshotter.v1    devmapper    linux/amd64    error     ',
      '',
    ].join('\n'),
  );
});

test('Go time formats: RFC3339Nano trims zeros, Time.String, zero time', () => {
  assert.equal(formatRFC3339Nano({ seconds: 1795455418, nanos: 278688294 }), '2026-11-23T17:36:58.278688294Z');
  assert.equal(formatRFC3339Nano({ seconds: 1795455418, nanos: 710374250 }), '2026-11-23T17:36:58.71037425Z');
  assert.equal(formatRFC3339Nano({ seconds: 1795455418, nanos: 0 }), '2026-11-23T17:36:58Z');
  assert.equal(formatRFC3339Nano(null), '0001-01-01T00:00:00Z');
  assert.equal(formatGoTimeString({ seconds: 1795455425, nanos: 640847362 }), '2026-11-23 17:37:05.640847362 +0000 UTC');
  assert.equal(formatGoTimeString(null), '0001-01-01 00:00:00 +0000 UTC');
});

test('Go durations', () => {
  assert.equal(parseGoDuration('0s'), 0);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('10s'), 10_000);
  assert.equal(parseGoDuration('1m30s'), 90_000);
  assert.equal(parseGoDuration('1.5h'), 5_400_000);
  assert.equal(parseGoDuration('250ms'), 250);
  assert.throws(() => parseGoDuration('10'), /invalid duration/);
  assert.throws(() => parseGoDuration('ten seconds'), /invalid duration/);
  assert.equal(formatGoDuration(24 * 3_600_000), '24h0m0s');
  assert.equal(formatGoDuration(0), '0s');
});

test('Go JSON: HTML-safe escaping, big numbers, sorted maps, indentation', () => {
  assert.equal(goMarshal({ a: '<b>&"x"\n', n: new GoNumber('18446744073709551615') }), '{"a":"\\u003cb\\u003e\\u0026\\"x\\"\\n","n":18446744073709551615}');
  assert.equal(goMarshal(sortedMap({ b: '1', a: '2', '10': '3', '9': '4' })), '{"10":"3","9":"4","a":"2","b":"1"}');
  assert.equal(goMarshalIndent({ a: [1], e: [], o: {} }, '    '), '{\n    "a": [\n        1\n    ],\n    "e": [],\n    "o": {}\n}');
});

test('events: payloads marshalled as ctr prints them', () => {
  const cases: [string, object, string][] = [
    [
      'containerd.events.ContainerCreate',
      { id: 'r1', runtime: { name: 'io.containerd.runc.v2', options: { type_url: 'containerd.runc.v1.Options', value: Buffer.alloc(0) } } },
      '{"id":"r1","runtime":{"name":"io.containerd.runc.v2","options":{"type_url":"containerd.runc.v1.Options"}}}',
    ],
    [
      'containerd.events.TaskCreate',
      {
        container_id: 'r1',
        bundle: '/tmp/ctrref/state/io.containerd.runtime.v2.task/default/r1',
        io: { stdin: '/run/containerd/fifo/672500696/r1-stdin', stdout: '/run/containerd/fifo/672500696/r1-stdout', stderr: '/run/containerd/fifo/672500696/r1-stderr' },
        pid: 12949,
      },
      '{"container_id":"r1","bundle":"/tmp/ctrref/state/io.containerd.runtime.v2.task/default/r1","io":{"stdin":"/run/containerd/fifo/672500696/r1-stdin","stdout":"/run/containerd/fifo/672500696/r1-stdout","stderr":"/run/containerd/fifo/672500696/r1-stderr"},"pid":12949}',
    ],
    [
      'containerd.events.TaskExit',
      { container_id: 'r1', id: 'r1', pid: 12949, exited_at: { seconds: 1795455438, nanos: 278688294 } },
      '{"container_id":"r1","id":"r1","pid":12949,"exited_at":"2026-11-23T17:37:18.278688294Z"}',
    ],
    [
      'containerd.events.TaskExit',
      { container_id: 'r2', id: 'e1', pid: 13078, exit_status: 3, exited_at: { seconds: 1795455438, nanos: 480352669 } },
      '{"container_id":"r2","id":"e1","pid":13078,"exit_status":3,"exited_at":"2026-11-23T17:37:18.480352669Z"}',
    ],
    ['containerd.events.TaskExecAdded', { container_id: 'r2', exec_id: 'e1' }, '{"container_id":"r2","exec_id":"e1"}'],
    ['containerd.events.TaskPaused', { container_id: 'r2' }, '{"container_id":"r2"}'],
    ['containerd.events.NamespaceCreate', { name: 'foo', labels: { c: '', a: 'b' } }, '{"name":"foo","labels":{"a":"b","c":""}}'],
    ['containerd.events.ContainerDelete', { id: 'r1' }, '{"id":"r1"}'],
  ];
  for (const [type, value, expected] of cases) {
    const d = decodeAnyLossless(packAny(type, value));
    assert.equal(goMarshal(toGoJsonValue(d.type, d.value)), expected, type);
  }
  const line = eventLine({
    timestamp: { seconds: 1795455425, nanos: 710374250 },
    namespace: 'default',
    topic: '/containers/delete',
    event: packAny('containerd.events.ContainerDelete', { id: 'r1' }),
  } as never);
  assert.equal(line, '2026-11-23 17:37:05.71037425 +0000 UTC default /containers/delete {"id":"r1"}');
});

test('gRPC errors read as ctr prints them (containerd errdefs.FromGRPC)', () => {
  const e = (code: number, details: string) => errorFromGrpc({ code, details, message: details });
  assert.equal(e(GrpcStatus.NOT_FOUND, 'container "nope" in namespace "default": not found').message, 'container "nope" in namespace "default": not found');
  assert.equal(e(GrpcStatus.NOT_FOUND, 'task web1 not found').message, 'task web1 not found: not found');
  assert.equal(e(GrpcStatus.ALREADY_EXISTS, 'container "p9": already exists').message, 'container "p9": already exists');
  assert.equal(e(GrpcStatus.FAILED_PRECONDITION, 'failed precondition').message, 'failed precondition');
  assert.equal(e(GrpcStatus.UNKNOWN, 'failed to create shim task: boom').message, 'failed to create shim task: boom: unknown');
  assert.equal(e(GrpcStatus.UNIMPLEMENTED, 'unknown service x').message, 'unknown service x: not implemented');
  assert.equal(e(GrpcStatus.NOT_FOUND, 'x').kind, 'not-found');
});

test('logrus-style log lines', () => {
  const line = logLine('error', 'failed to delete container "d1"', { error: 'boom: failed precondition' });
  assert.match(line, /^time="[^"]+" level=error msg="failed to delete container \\"d1\\"" error="boom: failed precondition"$/);
  assert.match(logLine('warning', 'plain'), / level=warning msg=plain$/);
});
