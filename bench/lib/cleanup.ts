import type { Cleanup } from '../../testkit/process.js'

/** The benchmark's clean-up registry: everything started is stopped, newest first, even on failure. */
export class CleanupStack implements Cleanup {
  private readonly steps: Array<() => unknown> = []

  teardown (fn: () => unknown): void {
    this.steps.push(fn)
  }

  async run (): Promise<void> {
    while (this.steps.length > 0) {
      try {
        await this.steps.pop()!()
      } catch {
        // Keep cleaning: one failed step must not leave the rest running.
      }
    }
  }
}
