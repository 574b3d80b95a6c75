/**
 * A stack of undo steps, acquired next to what they undo:
 *
 *   const undo = new Cleanup();
 *   try { mkdir(x); undo.push(() => rmdir(x)); ...; undo.release(); } finally { await undo.run(); }
 *
 * `run` performs the steps in reverse order, never throws, and returns the errors it met. `release` forgets
 * them once the whole operation succeeded.
 */
export type UndoStep = () => void | Promise<void>;

export class Cleanup {
  private steps: UndoStep[] = [];

  push(step: UndoStep): void {
    this.steps.push(step);
  }

  /** Forget every step: the acquisition succeeded and now belongs to someone else. */
  release(): void {
    this.steps = [];
  }

  async run(): Promise<unknown[]> {
    const errors: unknown[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    return errors;
  }
}
