export type ClientName = 'bidtorrent' | 'libtorrent'

/** One transfer: a seeder sending a whole torrent to one leecher, measured on both processes. */
export interface TransferRun {
  readonly scenario: string
  readonly seeder: ClientName
  readonly leecher: ClientName
  readonly rep: number
  readonly bytes: number
  /** From adding the torrent to the last piece verified, inside the leecher. */
  readonly seconds: number
  readonly leecherCpuSeconds: number
  readonly seederCpuSeconds: number
  readonly leecherPeakRssAnon: number
  readonly seederPeakRssAnon: number
  /** [seconds since the add, bytes received] samples. */
  readonly timeline: ReadonlyArray<readonly [number, number]>
}

export function pairing (run: Pick<TransferRun, 'seeder' | 'leecher'>): string {
  return `${run.seeder} → ${run.leecher}`
}
