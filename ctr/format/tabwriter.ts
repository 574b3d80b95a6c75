/**
 * A port of the parts of Go's `text/tabwriter` that ctr uses, so that bctr's tables line up byte for byte
 * with ctr's (`tabwriter.NewWriter(os.Stdout, minwidth, tabwidth, padding, ' ', 0)`).
 *
 * Semantics kept from Go: text is cut into lines and cells at '\t'; a cell belongs to a column only when it
 * is tab-terminated (the text after a line's last tab is not part of any column and is never padded); a
 * column block is a run of consecutive lines that all have a cell in that column, and its width is
 * max(minwidth, widest cell + padding). Widths count Unicode code points, as Go counts runes.
 */

export interface TabwriterOptions {
  minwidth: number;
  tabwidth: number;
  padding: number;
}

interface Cell {
  text: string;
  width: number;
}

export class Tabwriter {
  private buffer = '';

  constructor(private readonly opts: TabwriterOptions) {}

  /** Appends text (may hold many lines); nothing is formatted until flush(). */
  write(text: string): this {
    this.buffer += text;
    return this;
  }

  /** Appends one line: the cells joined by tabs, then a newline (like fmt.Fprintln(w, "a\tb\t")). */
  line(text: string): this {
    return this.write(text + '\n');
  }

  /** Formats everything written so far and returns it; the writer is empty afterwards. */
  flush(): string {
    const text = this.buffer;
    this.buffer = '';
    return formatTable(text, this.opts);
  }
}

/** Formats a whole tab-separated text as Go's tabwriter would on Flush. */
export function formatTable(text: string, opts: TabwriterOptions): string {
  const rawLines = text.split('\n');
  // The part after the last newline is an unterminated line; Go prints it without a newline.
  const lines: Cell[][] = rawLines.map((l) => l.split('\t').map((t) => ({ text: t, width: [...t].length })));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i];
      let s = '';
      for (let j = 0; j < line.length; j++) {
        const c = line[j];
        s += c.text;
        if (j < widths.length) s += ' '.repeat(Math.max(0, widths[j] - c.width));
      }
      out.push(i + 1 === lines.length ? s : s + '\n');
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= lines[cur].length - 1) continue;
      // A cell exists in this column: print the lines before the block, then measure the block.
      writeLines(line0, cur);
      line0 = cur;
      let width = opts.minwidth;
      for (; cur < line1; cur++) {
        const line = lines[cur];
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column].width + opts.padding);
      }
      widths.push(width);
      format(line0, cur);
      widths.pop();
      line0 = cur; // the line that ended the block has no cell here: the loop's increment may skip it
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('');
}
