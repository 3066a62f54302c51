import { InvalidTorrentError } from '../../util/errors.js'

/**
 * A bencoded value as read, nothing lost: byte strings stay bytes, dictionary keys stay in file
 * order with their raw bytes (as latin1 strings, one char per byte). The `bencode` package turns
 * keys into UTF-8 text (or hex when they are not UTF-8) and a JavaScript object puts numeric keys
 * first: v2's `file tree` (names, in order) and `piece layers` (binary keys) need neither.
 */
export type BValue = number | Buffer | BValue[] | BDict
export type BDict = Map<string, BValue>

/** Nesting deeper than this is hostile: a v2 file tree nests once per folder. */
const MAX_DEPTH = 64

interface Read { readonly value: BValue, readonly end: number }

export function bdecode (data: Buffer): BValue {
  const { value, end } = readValue(data, 0, 0)
  if (end !== data.length) throw new InvalidTorrentError('bencoded data has bytes after its end')
  return value
}

/** The top-level dictionary's values as raw byte ranges (the info dictionary hashes as it was sent). */
export function topLevelSpans (data: Buffer): Map<string, Buffer> {
  if (data[0] !== 0x64) throw new InvalidTorrentError('not a bencoded dictionary')
  const spans = new Map<string, Buffer>()
  let pos = 1
  while (data[pos] !== 0x65) {
    if (pos >= data.length) throw new InvalidTorrentError('bencoded dictionary is cut short')
    const key = readString(data, pos)
    const value = readValue(data, key.end, 1)
    spans.set((key.value as Buffer).toString('latin1'), data.subarray(key.end, value.end))
    pos = value.end
  }
  return spans
}

function readValue (data: Buffer, pos: number, depth: number): Read {
  if (depth > MAX_DEPTH) throw new InvalidTorrentError('bencoded data nests too deep')
  const byte = data[pos]
  if (byte === undefined) throw new InvalidTorrentError('bencoded data is cut short')
  if (byte === 0x69) return readInteger(data, pos)
  if (byte === 0x6c) {
    const list: BValue[] = []
    let at = pos + 1
    while (data[at] !== 0x65) {
      if (at >= data.length) throw new InvalidTorrentError('bencoded list is cut short')
      const item = readValue(data, at, depth + 1)
      list.push(item.value)
      at = item.end
    }
    return { value: list, end: at + 1 }
  }
  if (byte === 0x64) {
    const dict: BDict = new Map()
    let at = pos + 1
    while (data[at] !== 0x65) {
      if (at >= data.length) throw new InvalidTorrentError('bencoded dictionary is cut short')
      const key = readString(data, at)
      const item = readValue(data, key.end, depth + 1)
      dict.set((key.value as Buffer).toString('latin1'), item.value)
      at = item.end
    }
    return { value: dict, end: at + 1 }
  }
  return readString(data, pos)
}

function readInteger (data: Buffer, pos: number): Read {
  const end = data.indexOf(0x65, pos)
  const text = end < 0 ? '' : data.toString('latin1', pos + 1, end)
  if (!/^(0|-?[1-9][0-9]{0,15})$/.test(text)) throw new InvalidTorrentError('bencoded integer is malformed')
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new InvalidTorrentError('bencoded integer is too large')
  return { value, end: end + 1 }
}

function readString (data: Buffer, pos: number): Read {
  const colon = data.indexOf(0x3a, pos)
  const text = colon < 0 ? '' : data.toString('latin1', pos, colon)
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) throw new InvalidTorrentError('bencoded string is malformed')
  const end = colon + 1 + Number(text)
  if (end > data.length) throw new InvalidTorrentError('bencoded string is cut short')
  return { value: data.subarray(colon + 1, end), end }
}
