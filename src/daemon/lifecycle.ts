import type { Logger } from 'winston'
import { errorMessage } from '../util/errors.js'

interface StartedPart {
  readonly name: string
  readonly stop: () => Promise<unknown> | unknown
}

/**
 * The daemon's parts, started in order and stopped in reverse (as js-libp2p's components): a part
 * that fails to start stops every part started before it, so a daemon that cannot start leaves
 * nothing running and nothing locked.
 */
export class Lifecycle {
  private readonly started: StartedPart[] = []
  private stopping: Promise<void> | undefined

  constructor (private readonly log: Logger) {}

  /** Starts a part; `stop` is called with it when the daemon stops (or a later part fails to start). */
  async start<Part> (name: string, start: () => Promise<Part> | Part, stop: (part: Part) => Promise<unknown> | unknown): Promise<Part> {
    let part: Part
    try {
      part = await start()
    } catch (err) {
      await this.stop()
      throw err
    }
    this.started.push({ name, stop: () => stop(part) })
    return part
  }

  /** Stops every started part, the last started first; one that fails to stop is logged, and the rest still stop. */
  stop (): Promise<void> {
    this.stopping ??= (async () => {
      for (let part = this.started.pop(); part; part = this.started.pop()) {
        try {
          await part.stop()
        } catch (err) {
          this.log.warn(`stopping the ${part.name} failed`, { error: errorMessage(err) })
        }
      }
    })()
    return this.stopping
  }
}
