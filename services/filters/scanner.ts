/**
 * The tokenizer of containerd's filter syntax (filters/scanner.go), rune for rune, so that filters that
 * containerd accepts or refuses are accepted or refused here the same way.
 *
 * Quirks kept on purpose: `/`, `|` and `"` all open a quoted token (so `topic==/tasks/exit` is a quoted
 * `/tasks/` followed by junk and fails to parse, as in containerd), `.` and `,` are separators, and after an
 * operator the scanner reads a bare value up to the next `,` or space.
 */

export const enum Token {
  EOF = -1,
  Quoted = -2,
  Value = -3,
  Field = -4,
  Separator = -5,
  Operator = -6,
  Illegal = -7,
}

/** A scanned token: its start offset, kind (a Token or a literal code point) and text. */
export interface Scanned {
  pos: number;
  tok: number;
  text: string;
}

const isFieldRune = (r: number): boolean =>
  r === 0x5f /* _ */ || (r >= 0x41 && r <= 0x5a) || (r >= 0x61 && r <= 0x7a) || (r >= 0x30 && r <= 0x39);
const isOperatorRune = (r: number): boolean => r === 0x3d /* = */ || r === 0x21 /* ! */ || r === 0x7e; /* ~ */
const isQuoteRune = (r: number): boolean => r === 0x2f /* / */ || r === 0x7c /* | */ || r === 0x22; /* " */
const isSeparatorRune = (r: number): boolean => r === 0x2c /* , */ || r === 0x2e; /* . */
const spaceRe = /^\s$/u;
const isSpace = (r: number): boolean => r >= 0 && spaceRe.test(String.fromCodePoint(r));
/** Go's value rune: not a comma, not a space, and a letter, digit, graphic or punctuation character. */
const valueRe = /^[\p{L}\p{N}\p{P}\p{S}\p{M}\p{Zs}]$/u;
const isValueRune = (r: number): boolean =>
  r >= 0 && r !== 0x2c && !isSpace(r) && valueRe.test(String.fromCodePoint(r));

function digitVal(r: number): number {
  if (r >= 0x30 && r <= 0x39) return r - 0x30;
  if (r >= 0x61 && r <= 0x66) return r - 0x61 + 10;
  if (r >= 0x41 && r <= 0x46) return r - 0x41 + 10;
  return 16;
}

export class Scanner {
  private input = '';
  /** Start of the current rune. */
  pos = 0;
  /** End of the current rune (start of the next). */
  ppos = 0;
  private value = false;
  err = '';

  init(input: string): void {
    this.input = input;
    this.pos = 0;
    this.ppos = 0;
    this.value = false;
    this.err = '';
  }

  private next(): number {
    if (this.pos >= this.input.length || this.ppos >= this.input.length) {
      this.pos = this.ppos;
      return Token.EOF;
    }
    this.pos = this.ppos;
    const r = this.input.codePointAt(this.ppos)!;
    this.ppos += r > 0xffff ? 2 : 1;
    if (r >= 0xd800 && r <= 0xdfff) {
      this.error('rune error');
      return Token.Illegal;
    }
    if (r === 0) {
      this.error('unexpected null');
      return Token.Illegal;
    }
    return r;
  }

  peek(): number {
    const { pos, ppos } = this;
    const ch = this.next();
    this.pos = pos;
    this.ppos = ppos;
    return ch;
  }

  scan(): Scanned {
    let ch = this.next();
    let pos = this.pos;
    for (;;) {
      if (ch === Token.EOF || ch === Token.Illegal) break;
      if (isQuoteRune(ch)) {
        if (!this.scanQuoted(ch)) return { pos, tok: Token.Illegal, text: this.input.slice(pos, this.ppos) };
        return { pos, tok: Token.Quoted, text: this.input.slice(pos, this.ppos) };
      }
      if (isSeparatorRune(ch)) {
        this.value = false;
        return { pos, tok: Token.Separator, text: this.input.slice(pos, this.ppos) };
      }
      if (isOperatorRune(ch)) {
        this.scanOperator();
        this.value = true;
        return { pos, tok: Token.Operator, text: this.input.slice(pos, this.ppos) };
      }
      if (isSpace(ch)) {
        ch = this.next();
        pos = this.pos;
        continue;
      }
      if (this.value) {
        this.scanValue();
        this.value = false;
        return { pos, tok: Token.Value, text: this.input.slice(pos, this.ppos) };
      }
      if (isFieldRune(ch)) {
        this.scanField();
        return { pos, tok: Token.Field, text: this.input.slice(pos, this.ppos) };
      }
      break;
    }
    return { pos: this.pos, tok: ch, text: '' };
  }

  private scanField(): void {
    while (isFieldRune(this.peek())) this.next();
  }

  private scanOperator(): void {
    while (isOperatorRune(this.peek())) this.next();
  }

  private scanValue(): void {
    while (isValueRune(this.peek())) this.next();
  }

  private scanQuoted(quote: number): boolean {
    let illegal = false;
    let ch = this.next();
    while (ch !== quote) {
      if (ch === 0x0a || ch < 0) {
        this.error('quoted literal not terminated');
        return false;
      }
      if (ch === 0x5c /* \ */) {
        const [next, legal] = this.scanEscape(quote);
        ch = next;
        if (!legal) illegal = true;
      } else {
        ch = this.next();
      }
    }
    return !illegal;
  }

  private scanEscape(quote: number): [number, boolean] {
    const ch = this.next();
    switch (ch) {
      case 0x61: case 0x62: case 0x66: case 0x6e: case 0x72: case 0x74: case 0x76: case 0x5c: case quote: // a b f n r t v \ quote
        return [this.next(), true];
      case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37:
        return this.scanDigits(ch, 8, 3);
      case 0x78: // x
        return this.scanDigits(this.next(), 16, 2);
      case 0x75: // u
        return this.scanDigits(this.next(), 16, 4);
      case 0x55: // U
        return this.scanDigits(this.next(), 16, 8);
      default:
        this.error('illegal escape sequence');
        return [ch, false];
    }
  }

  private scanDigits(ch: number, base: number, n: number): [number, boolean] {
    while (n > 0 && digitVal(ch) < base) {
      ch = this.next();
      n--;
    }
    if (n > 0) {
      this.error('illegal numeric escape sequence');
      return [ch, false];
    }
    return [ch, true];
  }

  private error(msg: string): void {
    if (this.err === '') this.err = msg;
  }
}
