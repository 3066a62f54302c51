/**
 * A process-wide count of large buffers let go (a piece cache emptied, a torrent removed). The
 * garbage collector cannot see them until it runs, and an idle process does not run it: the
 * daemon's idle collection reads this count to know there is memory to give back.
 */
let releasedBytes = 0

export function noteReleasedMemory (bytes: number): void {
  if (bytes > 0) releasedBytes += bytes
}

/** Bytes let go since the process started. */
export function releasedMemory (): number {
  return releasedBytes
}
