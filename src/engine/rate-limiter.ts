/**
 * A token bucket: `rate` bytes per second with up to `burst` saved up. Time is passed in, so the
 * arithmetic is testable without clocks. A rate of 0 means unlimited.
 */
export class TokenBucket {
  private tokens: number
  private updatedAt: number

  constructor (private rate: number, private burstSeconds = 0.25, now = Date.now()) {
    this.tokens = this.burst
    this.updatedAt = now
  }

  get limited (): boolean {
    return this.rate > 0
  }

  get bytesPerSecond (): number {
    return this.rate
  }

  private get burst (): number {
    // At least one 16 KiB block, so a tiny limit still lets blocks through.
    return Math.max(16_384, this.rate * this.burstSeconds)
  }

  setRate (rate: number, now = Date.now()): void {
    this.refill(now)
    this.rate = rate
    this.tokens = Math.min(this.tokens, this.burst)
  }

  /** Milliseconds until `bytes` may pass (0 = now). */
  delayFor (bytes: number, now = Date.now()): number {
    if (!this.limited) return 0
    this.refill(now)
    const wanted = Math.min(bytes, this.burst)
    if (this.tokens >= wanted) return 0
    return Math.ceil(((wanted - this.tokens) / this.rate) * 1000)
  }

  consume (bytes: number, now = Date.now()): void {
    if (!this.limited) return
    this.refill(now)
    this.tokens -= bytes
  }

  private refill (now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt) / 1000
    this.updatedAt = now
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.rate)
  }
}

/** Several buckets that must all agree (global limit and per-torrent limit). */
export class RateLimitChain {
  constructor (private readonly buckets: readonly TokenBucket[]) {}

  delayFor (bytes: number, now = Date.now()): number {
    let delay = 0
    for (const bucket of this.buckets) delay = Math.max(delay, bucket.delayFor(bytes, now))
    return delay
  }

  consume (bytes: number, now = Date.now()): void {
    for (const bucket of this.buckets) bucket.consume(bytes, now)
  }
}

/** A torrent's own upload and download limits, each chained after the engine's global one. */
export class TorrentLimits {
  private readonly uploadBucket: TokenBucket
  private readonly downloadBucket: TokenBucket
  readonly upload: RateLimitChain
  readonly download: RateLimitChain
  /** The global and the torrent's upload buckets: a capped rate is shared out in the market. */
  readonly uploadBuckets: readonly TokenBucket[]

  constructor (globalUpload: TokenBucket, globalDownload: TokenBucket, uploadLimit = 0, downloadLimit = 0) {
    this.uploadBucket = new TokenBucket(uploadLimit)
    this.downloadBucket = new TokenBucket(downloadLimit)
    this.upload = new RateLimitChain([globalUpload, this.uploadBucket])
    this.download = new RateLimitChain([globalDownload, this.downloadBucket])
    this.uploadBuckets = [globalUpload, this.uploadBucket]
  }

  get uploadLimit (): number {
    return this.uploadBucket.bytesPerSecond
  }

  get downloadLimit (): number {
    return this.downloadBucket.bytesPerSecond
  }

  set (limits: { uploadLimit?: number; downloadLimit?: number }): void {
    if (limits.uploadLimit !== undefined) this.uploadBucket.setRate(limits.uploadLimit)
    if (limits.downloadLimit !== undefined) this.downloadBucket.setRate(limits.downloadLimit)
  }
}
