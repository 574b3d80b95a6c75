/**
 * Unquoting of filter literals, as containerd's filters/quote.go: Go string-literal syntax where `"`, `/`
 * and `|` all act as double quotes (the last two so regular expressions need no escaping of `"`).
 * Works on UTF-8 bytes, like Go, so `\xNN` escapes build byte sequences.
 */

export class QuoteSyntaxError extends Error {
  constructor() {
    super('invalid syntax');
  }
}

const hexVal = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
};

const simpleEscapes: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c };

/** Decodes one quoted literal including its delimiters; throws QuoteSyntaxError when malformed. */
export function unquote(literal: string): string {
  const n = literal.length;
  if (n < 2) throw new QuoteSyntaxError();
  const quote = literal[0]!;
  if (quote !== literal[n - 1]) throw new QuoteSyntaxError();
  const body = literal.slice(1, n - 1);
  if (quote === '`') {
    if (body.includes('`')) throw new QuoteSyntaxError();
    return body.replace(/\r/g, '');
  }
  if (quote !== '"' && quote !== "'" && quote !== '|' && quote !== '/') throw new QuoteSyntaxError();
  if (body.includes('\n')) throw new QuoteSyntaxError();
  if (!body.includes('\\') && !body.includes(quote)) {
    if (quote !== "'") return body;
    if ([...body].length === 1) return body;
  }

  const out: number[] = [];
  const src = Buffer.from(body, 'utf8');
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === quote.charCodeAt(0)) throw new QuoteSyntaxError();
    if (c !== 0x5c) {
      out.push(c);
      i++;
    } else {
      if (i + 1 >= src.length) throw new QuoteSyntaxError();
      const e = String.fromCharCode(src[i + 1]!);
      i += 2;
      if (e in simpleEscapes) {
        out.push(simpleEscapes[e]!);
      } else if (e === 'x' || e === 'u' || e === 'U') {
        const digits = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        if (i + digits > src.length) throw new QuoteSyntaxError();
        let v = 0;
        for (let j = 0; j < digits; j++) {
          const h = hexVal(src[i + j]!);
          if (h < 0) throw new QuoteSyntaxError();
          v = v * 16 + h;
        }
        i += digits;
        if (e === 'x') out.push(v);
        else {
          if (v > 0x10ffff) throw new QuoteSyntaxError();
          out.push(...Buffer.from(String.fromCodePoint(v), 'utf8'));
        }
      } else if (e >= '0' && e <= '7') {
        if (i + 2 > src.length) throw new QuoteSyntaxError();
        let v = e.charCodeAt(0) - 0x30;
        for (let j = 0; j < 2; j++) {
          const d = src[i + j]! - 0x30;
          if (d < 0 || d > 7) throw new QuoteSyntaxError();
          v = (v << 3) | d;
        }
        i += 2;
        if (v > 255) throw new QuoteSyntaxError();
        out.push(v);
      } else if (e === "'" || e === '"' || e === '|' || e === '/') {
        if (e !== quote) throw new QuoteSyntaxError();
        out.push(e.charCodeAt(0));
      } else {
        throw new QuoteSyntaxError();
      }
    }
    if (quote === "'" && i < src.length) throw new QuoteSyntaxError();
  }
  return Buffer.from(out).toString('utf8');
}
