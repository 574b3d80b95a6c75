/**
 * Parser of containerd's filter syntax (filters/parser.go):
 *
 *   selectors := selector ("," selector)*
 *   selector  := fieldpath (operator value)
 *   fieldpath := field ('.' field)*
 *   field     := quoted | [A-Za-z0-9_]+
 *   operator  := "==" | "!=" | "~="
 *   value     := quoted | [^\s,]+
 *   quoted    := Go string syntax with " (and / or | after ~=)
 *
 * Examples (from containerd's doc comment): `name==foo`, `labels.foo`, `labels."very complex label"==something`,
 * `name==foo,labels.bar`, `topic~=|^/tasks/|`. An empty string matches everything.
 */
import { InvalidArgument } from '../../pkg/errdefs';
import { All, AnyOf, Selector, always, type Filter, type Operator } from './filter';
import { unquote } from './quote';
import { Scanner, Token } from './scanner';

export class FilterParseError extends Error {}

class Parser {
  private readonly scanner = new Scanner();
  constructor(private readonly input: string) {
    this.scanner.init(input);
  }

  parse(): Filter {
    try {
      return this.selectors();
    } catch (err) {
      if (err instanceof FilterParseError) throw new FilterParseError(`filters: ${err.message}`);
      throw err;
    }
  }

  private selectors(): Filter {
    const ss: Filter[] = [this.selector()];
    for (;;) {
      const tok = this.scanner.peek();
      if (tok === 0x2c /* , */) {
        const { pos, tok: t } = this.scanner.scan();
        if (t !== Token.Separator) throw this.mkerr(pos, 'expected a separator');
        ss.push(this.selector());
      } else if (tok === Token.EOF) {
        break;
      } else {
        throw this.mkerr(this.scanner.ppos, `unexpected input: ${tok >= 0 ? String.fromCodePoint(tok) : '\ufffd'}`);
      }
    }
    return new All(ss);
  }

  private selector(): Selector {
    const fieldpath = this.fieldpath();
    const next = this.scanner.peek();
    if (next === 0x2c || next === Token.Separator || next === Token.EOF) return new Selector(fieldpath, 'present');
    const op = this.operator();
    const value = this.value(op === '~=');
    return new Selector(fieldpath, op, value);
  }

  private fieldpath(): string[] {
    const fs = [this.field()];
    while (this.scanner.peek() === 0x2e /* . */) {
      const { pos, tok } = this.scanner.scan();
      if (tok !== Token.Separator) throw this.mkerr(pos, 'expected a field separator (`.`)');
      fs.push(this.field());
    }
    return fs;
  }

  private field(): string {
    const { pos, tok, text } = this.scanner.scan();
    switch (tok) {
      case Token.Field:
        return text;
      case Token.Quoted:
        return this.unquote(pos, text, false);
      case Token.Illegal:
        throw this.mkerr(pos, this.scanner.err);
    }
    throw this.mkerr(pos, 'expected field or quoted');
  }

  private operator(): Operator {
    const { pos, tok, text } = this.scanner.scan();
    if (tok === Token.Operator) {
      if (text === '==' || text === '!=' || text === '~=') return text;
      throw this.mkerr(pos, `unsupported operator ${JSON.stringify(text)}`);
    }
    if (tok === Token.Illegal) throw this.mkerr(pos, this.scanner.err);
    throw this.mkerr(pos, 'expected an operator ("=="|"!="|"~=")');
  }

  private value(allowAltQuotes: boolean): string {
    const { pos, tok, text } = this.scanner.scan();
    switch (tok) {
      case Token.Value:
      case Token.Field:
        return text;
      case Token.Quoted:
        return this.unquote(pos, text, allowAltQuotes);
      case Token.Illegal:
        throw this.mkerr(pos, this.scanner.err);
    }
    throw this.mkerr(pos, 'expected value or quoted');
  }

  private unquote(pos: number, s: string, allowAlts: boolean): string {
    if (!allowAlts && s[0] !== "'" && s[0] !== '"') throw this.mkerr(pos, 'invalid quote encountered');
    try {
      return unquote(s);
    } catch (err) {
      throw this.mkerr(pos, `unquoting failed: ${(err as Error).message}`);
    }
  }

  private mkerr(pos: number, msg: string): FilterParseError {
    const input = this.input;
    if (pos < input.length) {
      return new FilterParseError(
        `parse error: [${input.slice(0, pos)} >|${input.slice(pos, pos + 1)}|< ${input.slice(pos + 1)}]: ${msg}`,
      );
    }
    return new FilterParseError(`parse error: [${input}]: ${msg}`);
  }
}

/** Parses one filter string (selectors joined by `,`); throws FilterParseError. `''` matches everything. */
export function parse(s: string): Filter {
  if (s === '') return always;
  return new Parser(s).parse();
}

/**
 * Parses several filter strings into one filter that matches when any of them does; no strings match
 * everything. Throws InvalidArgument with containerd's message on a syntax error.
 */
export function parseAll(ss: readonly string[]): Filter {
  if (ss.length === 0) return always;
  const fs: Filter[] = [];
  for (const s of ss) {
    try {
      fs.push(parse(s));
    } catch (err) {
      if (err instanceof FilterParseError) throw new InvalidArgument(`${err.message}: invalid argument`, { cause: err });
      throw err;
    }
  }
  return fs.length === 1 ? fs[0]! : new AnyOf(fs);
}
