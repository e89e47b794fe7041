/**
 * A piece of background work that never runs twice at once: `wake()` starts it now, or —
 * when it is already running — once more right after, however many wakes came meanwhile.
 * Workers woken by LISTEN/NOTIFY and timers (the ledger sequencer, notification workers)
 * and the post-commit wake-ups themselves are built on it.
 */
export class CoalescedRun {
  private running: Promise<void> | null = null;
  private again = false;

  /**
   * @param run the work; a rejection goes to `onError` and the loop goes on
   * @param stopped while true, wakes are ignored and no further round starts
   */
  constructor(
    private readonly run: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
    private readonly stopped: () => boolean = () => false,
  ) {}

  wake(): void {
    if (this.stopped()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.run();
        } catch (error) {
          this.onError(error);
        }
      } while (this.again && !this.stopped());
    })().finally(() => {
      this.running = null;
      // A wake that arrived after the last check must not be lost.
      if (this.again) this.wake();
    });
  }

  /** Resolves once the round in progress, if any, has ended. */
  async settled(): Promise<void> {
    await this.running;
  }
}
