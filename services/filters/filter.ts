/**
 * Matching side of containerd's filter syntax (filters/filter.go). A filter is built by `parse` /
 * `parseAll` (parser.ts) and matched against an Adaptor: a function from a field path (`['labels',
 * 'foo.bar']`) to the field's value, or undefined when the object has no such field.
 *
 * Semantics, as containerd: `path` tests presence, `path==v` presence and equality, `path!=v` inequality
 * (an absent field counts as the empty string, so it matches), `path~=re` a regular-expression search in
 * the value (absent = ''); selectors joined by `,` must all match; several filter strings match when any does.
 */
import { getLogger } from '../../pkg/log';

export type Adaptor = (fieldpath: readonly string[]) => string | undefined;

export interface Filter {
  match(adaptor: Adaptor): boolean;
}

export type Operator = 'present' | '==' | '!=' | '~=';

export class Selector implements Filter {
  private re: RegExp | null | undefined;
  constructor(
    readonly fieldpath: string[],
    readonly operator: Operator,
    readonly value = '',
  ) {}

  match(adaptor: Adaptor): boolean {
    const v = adaptor(this.fieldpath);
    switch (this.operator) {
      case 'present':
        return v !== undefined;
      case '==':
        return v !== undefined && v === this.value;
      case '!=':
        return (v ?? '') !== this.value;
      case '~=': {
        if (this.re === undefined) this.re = compileGoRegexp(this.value);
        return this.re !== null && this.re.test(v ?? '');
      }
    }
  }
}

/** All selectors must match (the `,` of one filter string). */
export class All implements Filter {
  constructor(readonly filters: Filter[]) {}
  match(adaptor: Adaptor): boolean {
    return this.filters.every((f) => f.match(adaptor));
  }
}

/** Any filter may match (several filter strings). */
export class AnyOf implements Filter {
  constructor(readonly filters: Filter[]) {}
  match(adaptor: Adaptor): boolean {
    return this.filters.some((f) => f.match(adaptor));
  }
}

export const always: Filter = { match: () => true };

/** containerd's checkMap: `labels.a.b` looks up the key `a.b`; an empty map has no fields at all. */
export function checkMap(rest: readonly string[], map: Record<string, string> | undefined | null): string | undefined {
  if (!map) return undefined;
  const key = rest.join('.');
  return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
}

const posixClasses: Record<string, string> = {
  alnum: 'A-Za-z0-9', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~', space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z', word: 'A-Za-z0-9_', xdigit: '0-9A-Fa-f',
};

/**
 * Compiles a Go (RE2) regular expression as a JavaScript RegExp, translating what differs in common use:
 * leading `(?flags)`, `\A`, `\z`, `(?P<name>`, and POSIX classes in brackets. Returns null (and logs, like
 * containerd) when it does not compile: the selector then matches nothing.
 */
export function compileGoRegexp(source: string): RegExp | null {
  let flags = '';
  let src = source;
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) if (f !== 'U' && !flags.includes(f)) flags += f;
    src = src.slice(lead[0].length);
  }
  src = src
    .replace(/\(\?P</g, '(?<')
    .replace(/\\A/g, '^')
    .replace(/\\z/g, '$(?![\\s\\S])')
    .replace(/\[:(\^?)([a-z]+):\]/g, (m, neg: string, name: string) =>
      neg === '' && posixClasses[name] ? posixClasses[name]! : m,
    );
  try {
    return new RegExp(src, flags);
  } catch {
    getLogger('filters').error('error compiling regexp', { regexp: source });
    return null;
  }
}
