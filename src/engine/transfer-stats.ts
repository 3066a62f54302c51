/** Exponential moving average over one-second samples: roughly a 4-second window. */
const RATE_SMOOTHING = 0.25

/** A torrent's byte counters and its smoothed rates, updated once a tick. */
export class TransferStats {
  downloaded = 0
  uploaded = 0
  /** Bytes received that were of no use (unasked, duplicates, pieces that failed their hash). */
  wasted = 0
  downloadRate = 0
  uploadRate = 0
  private downloadSample = 0
  private uploadSample = 0

  received (bytes: number): void {
    this.downloadSample += bytes
    this.downloaded += bytes
  }

  sent (bytes: number): void {
    this.uploadSample += bytes
    this.uploaded += bytes
  }

  waste (bytes: number): void {
    this.wasted += bytes
  }

  /** Folds the bytes since the last tick into the rates; `elapsed` in seconds. */
  tick (elapsed: number): void {
    this.downloadRate += RATE_SMOOTHING * (this.downloadSample / elapsed - this.downloadRate)
    this.uploadRate += RATE_SMOOTHING * (this.uploadSample / elapsed - this.uploadRate)
    this.downloadSample = 0
    this.uploadSample = 0
  }
}
