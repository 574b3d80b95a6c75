/**
 * The filter engine against containerd's own table (filters/filter_test.go, same corpus, inputs, results
 * and error strings), the doc-comment examples, the event envelope adaptor and regexp translation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseAll, FilterParseError, checkMap, compileGoRegexp, type Adaptor } from '../../services/filters';
import { InvalidArgument } from '../../pkg/errdefs';
import { envelopeAdaptor } from '../../services/events/adaptor';
import { packAny } from '../../proto/any';

interface Entry {
  name: string;
  other?: string;
  labels?: Record<string, string>;
}

const corpus: Entry[] = [
  { name: 'foo', labels: { foo: 'true' } },
  { name: 'bar' },
  { name: 'foo', labels: { foo: 'present', 'more complex label': 'present' } },
  { name: 'bar', labels: { bar: 'true' } },
  { name: 'fooer', labels: { 'more complex label with \\ and "': 'present' } },
  { name: 'fooer', labels: { 'more complex label with \\ and ".post': 'present' } },
  { name: 'baz', other: 'too complex, yo' },
  { name: 'bazo', other: 'abc' },
  { name: 'compound', labels: { foo: 'omg_asdf.asdf-qwer' } },
];

const adapt = (o: Entry): Adaptor => (fieldpath) => {
  switch (fieldpath[0]) {
    case 'name':
      return o.name.length > 0 ? o.name : undefined;
    case 'other':
      return o.other ? o.other : undefined;
    case 'labels': {
      const key = fieldpath.slice(1).join('.');
      return o.labels && key in o.labels ? o.labels[key] : undefined;
    }
  }
  return undefined;
};

const all = corpus.map((_, i) => i);
const table: { name: string; input: string; expected?: number[]; errString?: string }[] = [
  { name: 'Empty', input: '', expected: all },
  { name: 'Present', input: 'name', expected: all },
  { name: 'LabelPresent', input: 'labels.foo', expected: [0, 2, 8] },
  { name: 'NameAndLabelPresent', input: 'labels.foo,name', expected: [0, 2, 8] },
  { name: 'LabelValue', input: 'labels.foo==true', expected: [0] },
  { name: 'LabelValuePunctuated', input: 'labels.foo==omg_asdf.asdf-qwer', expected: [8] },
  {
    name: 'LabelValueNoAltQuoting',
    input: 'labels.|foo|==omg_asdf.asdf-qwer',
    errString: 'filters: parse error: [labels. >|||< foo|==omg_asdf.asdf-qwer]: invalid quote encountered',
  },
  { name: 'Name', input: 'name==bar', expected: [1, 3] },
  { name: 'NameNotEqual', input: 'name!=bar', expected: [0, 2, 4, 5, 6, 7, 8] },
  { name: 'NameAndLabelPresent2', input: 'name==bar,labels.bar', expected: [3] },
  { name: 'QuotedValue', input: 'other=="too complex, yo"', expected: [6] },
  { name: 'RegexpValue', input: 'other~=[abc]+,name!=foo', expected: [6, 7] },
  { name: 'RegexpQuotedValue', input: 'other~=/[abc]+/,name!=foo', expected: [6, 7] },
  { name: 'RegexpQuotedValue2', input: 'other~=/[abc]{1,2}/,name!=foo', expected: [6, 7] },
  { name: 'RegexpQuotedValueGarbage', input: 'other~=/[abc]{0,1}"\\//,name!=foo', expected: [] },
  { name: 'NameAndLabelValue', input: 'name==bar,labels.bar==true', expected: [3] },
  { name: 'NameAndLabelValueNoMatch', input: 'name==bar,labels.bar==wrong', expected: [] },
  { name: 'LabelQuotedFieldPathPresent', input: 'name==foo,labels."more complex label"', expected: [2] },
  { name: 'LabelQuotedFieldPathPresentWithQuoted', input: 'labels."more complex label with \\\\ and \\""==present', expected: [4] },
  { name: 'LabelQuotedFieldPathPresentWithQuotedEmbed', input: 'labels."more complex label with \\\\ and \\"".post==present', expected: [5] },
  {
    name: 'LabelQuotedFieldPathPresentWithQuotedEmbedInvalid',
    input: 'labels.?"more complex label with \\\\ and \\"".post==present',
    errString: 'filters: parse error: [labels. >|?|< "more complex label with \\\\ and \\"".post==present]: expected field or quoted',
  },
  { name: 'TrailingComma', input: 'name==foo,', errString: 'filters: parse error: [name==foo,]: expected field or quoted' },
  { name: 'TrailingFieldSeparator', input: 'labels.', errString: 'filters: parse error: [labels.]: expected field or quoted' },
  {
    name: 'MissingValue',
    input: 'image~=,id?=?fbaq',
    errString: 'filters: parse error: [image~= >|,|< id?=?fbaq]: expected value or quoted',
  },
  {
    name: 'FieldQuotedLiteralNotTerminated',
    input: 'labels.ns/key==value',
    errString: 'filters: parse error: [labels.ns >|/|< key==value]: quoted literal not terminated',
  },
  {
    name: 'ValueQuotedLiteralNotTerminated',
    input: 'labels.key==/value',
    errString: 'filters: parse error: [labels.key== >|/|< value]: quoted literal not terminated',
  },
];

describe('filters: containerd filter_test.go table', () => {
  for (const tc of table) {
    it(tc.name, () => {
      if (tc.errString !== undefined) {
        assert.throws(() => parse(tc.input), (err: unknown) => {
          assert.ok(err instanceof FilterParseError);
          assert.equal((err as Error).message, tc.errString);
          return true;
        });
        return;
      }
      const f = parse(tc.input);
      const got = corpus.map((e, i) => (f.match(adapt(e)) ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(got, tc.expected);
    });
  }
});

describe('filters: doc comment examples and syntax', () => {
  const obj: Entry = { name: 'foo', labels: { bar: '1', 'very complex label': 'something' } };
  for (const [input, want] of [
    ['name==foo', true],
    ['labels.bar', true],
    ['labels.foo', false],
    ['labels."very complex label"==something', true],
    ['name==foo,labels.bar', true],
    ['name==foo,labels.baz', false],
    ['name~=^f', true],
    ['name~=|^F|', false],
    ['name~=|(?i)^F|', true],
    ['name != foo', false],
    ['  name  ==  foo', true],
    ['labels.bar!=2', true],
    ['labels.missing!=x', true],
    ['labels.missing~=^$', true],
  ] as const) {
    it(`${input} → ${want}`, () => assert.equal(parse(input).match(adapt(obj)), want));
  }

  it('several filters are OR-ed, selectors in one are AND-ed', () => {
    const f = parseAll(['name==nope', 'name==foo,labels.bar==1']);
    assert.equal(f.match(adapt(obj)), true);
    assert.equal(parseAll(['name==nope', 'labels.bar==2']).match(adapt(obj)), false);
    assert.equal(parseAll([]).match(adapt(obj)), true);
  });

  it('parseAll reports a syntax error as InvalidArgument', () => {
    assert.throws(() => parseAll(['name==foo', 'name==']), (err: unknown) => {
      assert.ok(err instanceof InvalidArgument);
      assert.match((err as Error).message, /^filters: parse error: \[name==\]: expected value or quoted: invalid argument$/);
      return true;
    });
  });

  it('refuses unsupported operators and unquoted topics like containerd', () => {
    assert.throws(() => parse('name=foo'), /unsupported operator "="/);
    assert.throws(() => parse('name==foo '), /unexpected input/); // containerd does not skip trailing spaces
    assert.throws(() => parse('topic==/tasks/exit'), /invalid quote encountered/);
    assert.equal(parse('topic=="/tasks/exit"').match((p) => (p[0] === 'topic' ? '/tasks/exit' : undefined)), true);
    assert.throws(() => parse('name=="unterminated'), /quoted literal not terminated/);
    assert.throws(() => parse('name=="bad\\q"'), /illegal escape sequence/);
  });

  it('unquotes Go escapes', () => {
    const f = parse('name=="a\\tb\\x41\\u00e9\\101"');
    assert.equal(f.match((p) => (p[0] === 'name' ? 'a\tbAéA' : undefined)), true);
  });

  it('an invalid regexp parses but matches nothing', () => {
    const f = parse('name~=|[|');
    assert.equal(f.match(() => 'x'), false);
  });

  it('checkMap joins the rest of the path', () => {
    assert.equal(checkMap(['a', 'b'], { 'a.b': 'v' }), 'v');
    assert.equal(checkMap(['a'], {}), undefined);
    assert.equal(checkMap([], { '': 'x' }), 'x');
  });

  it('translates RE2 syntax', () => {
    assert.ok(compileGoRegexp('(?i)^ABC\\z')!.test('abc'));
    assert.ok(!compileGoRegexp('^abc\\z')!.test('abc\n'));
    assert.ok(compileGoRegexp('^[[:digit:]]+$')!.test('123'));
    assert.ok(compileGoRegexp('(?P<x>a)')!.test('a'));
  });
});

describe('filters: event envelopes', () => {
  const env = {
    timestamp: { seconds: 1, nanos: 0 },
    namespace: 'moby',
    topic: '/tasks/exit',
    event: packAny('containerd.events.TaskExit', { container_id: 'c1', id: 'c1', pid: 42, exit_status: 3 }),
  };
  const update = {
    ...env,
    topic: '/containers/update',
    event: packAny('containerd.events.ContainerUpdate', { id: 'c2', labels: { 'a.b': 'x' } }),
  };
  for (const [filters, want] of [
    [['namespace==moby,topic~=|^/tasks/|'], true],
    [['namespace==default'], false],
    [['topic=="/tasks/exit"'], true],
    [['event.container_id==c1'], true],
    [['event.container_id==c2'], false],
    [['event.pid==42'], false],
    [['timestamp'], false],
    [['namespace==x', 'event.id==c1'], true],
  ] as const) {
    it(`${filters.join(' | ')} → ${want}`, () => assert.equal(parseAll(filters).match(envelopeAdaptor(env)), want));
  }
  it('labels of an event', () => {
    assert.equal(parseAll(['event.labels."a.b"==x']).match(envelopeAdaptor(update)), true);
    assert.equal(parseAll(['event.labels.a.b==x']).match(envelopeAdaptor(update)), true);
    assert.equal(parseAll(['event.labels.c']).match(envelopeAdaptor(update)), false);
  });
  it('nested runtime name of ContainerCreate', () => {
    const create = { ...env, event: packAny('containerd.events.ContainerCreate', { id: 'c', runtime: { name: 'io.containerd.runc.v2' } }) };
    assert.equal(parseAll(['event.runtime.name==io.containerd.runc.v2']).match(envelopeAdaptor(create)), true);
  });
  it('an unknown event type has no event fields', () => {
    const odd = { ...env, event: { type_url: 'example.com/Nope', value: Buffer.from('x') } };
    assert.equal(parseAll(['event.id']).match(envelopeAdaptor(odd)), false);
    assert.equal(parseAll(['topic']).match(envelopeAdaptor(odd)), true);
  });
});
