/**
 * Work waiting for a condition on the orchestrator's state (an operator's answer, a free intake
 * position), checked again each time something changed rather than on a timer.
 */
export class Waiters {
  private readonly waiting = new Set<() => void>();

  /** Something changed: every waiter whose condition now holds goes on. */
  wake(): void {
    for (const waiter of [...this.waiting]) waiter();
  }

  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!predicate()) return;
        this.waiting.delete(check);
        resolve();
      };
      this.waiting.add(check);
    });
  }
}
