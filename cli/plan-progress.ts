/** A progress bar for `workcell plan` on stderr, only when it is a terminal: scripts and pipes see nothing. */
import type { PlanProgress } from './plan-run.ts';

const WIDTH = 30;

export class PlanProgressBar {
  private lastLine = '';

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get shown(): boolean {
    return this.stream.isTTY === true;
  }

  update(progress: PlanProgress): void {
    if (!this.shown) return;
    const share = Math.min(1, (progress.done + progress.fraction) / Math.max(progress.total, 1));
    const filled = Math.round(share * WIDTH);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)} %  run ${Math.min(progress.done + 1, progress.total)}/${progress.total}, seed ${progress.seed}: ${progress.scenario}`;
    if (line === this.lastLine) return;
    // Spaces over what a longer line before left on the terminal.
    const previous = this.lastLine.length;
    this.lastLine = line;
    const columns = this.stream.columns ?? 100;
    this.stream.write(`\r${line.slice(0, columns - 1).padEnd(Math.min(columns - 1, previous))}`);
  }

  /** Clears the bar, leaving the terminal as it was. */
  done(): void {
    if (this.shown && this.lastLine) this.stream.write('\r\u001b[2K');
    this.lastLine = '';
  }
}
