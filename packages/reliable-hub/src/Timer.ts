/** One restartable timeout. Connections hold several; all are cleared when the connection ends. */
export class Timer {
  private handle: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly callback: () => void) {}

  get armed(): boolean {
    return this.handle !== null;
  }

  /** (Re)arms the timer to fire once after `ms`. */
  set(ms: number): void {
    this.clear();
    this.handle = setTimeout(() => {
      this.handle = null;
      this.callback();
    }, Math.max(0, ms));
  }

  clear(): void {
    if (this.handle !== null) {
      clearTimeout(this.handle);
      this.handle = null;
    }
  }
}
