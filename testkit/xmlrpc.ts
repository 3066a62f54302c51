import { connect } from 'node:net'

/** An XML-RPC value as rtorrent sends and takes them (no dates, no nil). */
export type XmlRpcValue = string | number | boolean | Buffer | XmlRpcValue[] | { [key: string]: XmlRpcValue }

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function escapeXml (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function unescapeXml (text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(parseInt(name.slice(2), 16))
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)))
    return ENTITIES[name] ?? whole
  })
}

function encodeValue (value: XmlRpcValue): string {
  if (typeof value === 'string') return `<value><string>${escapeXml(value)}</string></value>`
  if (typeof value === 'number') return `<value><i8>${Math.trunc(value)}</i8></value>`
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`
  if (Buffer.isBuffer(value)) return `<value><base64>${value.toString('base64')}</base64></value>`
  if (Array.isArray(value)) return `<value><array><data>${value.map(encodeValue).join('')}</data></array></value>`
  const members = Object.entries(value).map(([name, member]) => `<member><name>${escapeXml(name)}</name>${encodeValue(member)}</member>`)
  return `<value><struct>${members.join('')}</struct></value>`
}

export function encodeCall (method: string, params: readonly XmlRpcValue[]): string {
  const encoded = params.map((param) => `<param>${encodeValue(param)}</param>`).join('')
  return `<?xml version="1.0"?><methodCall><methodName>${escapeXml(method)}</methodName><params>${encoded}</params></methodCall>`
}

/** Reads XML-RPC's few tags in order; enough for a method response, not a general XML parser. */
class Reader {
  private position = 0
  constructor (private readonly text: string) {}

  private next (): { tag: string, closing: boolean, empty: boolean, before: string } {
    const start = this.text.indexOf('<', this.position)
    if (start < 0) throw new Error('unexpected end of XML-RPC response')
    const end = this.text.indexOf('>', start)
    const raw = this.text.slice(start + 1, end)
    const before = this.text.slice(this.position, start)
    this.position = end + 1
    if (raw.startsWith('?')) return this.next()
    const closing = raw.startsWith('/')
    const empty = raw.endsWith('/')
    const tag = raw.replace(/^\/|\/$/g, '').trim().split(/\s/)[0]!
    return { tag, closing, empty, before }
  }

  expect (tag: string): void {
    const found = this.next()
    if (found.tag !== tag || found.closing) throw new Error(`expected <${tag}>, found <${found.closing ? '/' : ''}${found.tag}>`)
  }

  response (): XmlRpcValue {
    this.expect('methodResponse')
    const kind = this.next()
    if (kind.tag === 'fault') {
      const fault = this.value() as { faultCode?: number, faultString?: string }
      throw new Error(`XML-RPC fault ${fault.faultCode ?? '?'}: ${fault.faultString ?? ''}`)
    }
    this.expect('param')
    return this.value()
  }

  value (): XmlRpcValue {
    this.expect('value')
    const open = this.next()
    if (open.closing) return unescapeXml(open.before) // <value>text</value> is a string
    if (open.empty) { this.next(); return open.tag === 'array' ? [] : open.tag === 'struct' ? {} : '' }
    if (open.tag === 'array') return this.array()
    if (open.tag === 'struct') return this.struct()
    const close = this.next()
    this.next() // </value>
    const text = unescapeXml(close.before)
    if (open.tag === 'string') return text
    if (open.tag === 'boolean') return text.trim() === '1'
    if (open.tag === 'base64') return Buffer.from(text, 'base64')
    if (open.tag === 'double') return Number(text)
    return Number(text) // i4, i8, int
  }

  private array (): XmlRpcValue[] {
    const items: XmlRpcValue[] = []
    const data = this.next()
    if (!data.empty) {
      for (;;) {
        const mark = this.position
        const peek = this.next()
        if (peek.closing) break // </data>
        this.position = mark
        items.push(this.value())
      }
    }
    this.next() // </array>
    this.next() // </value>
    return items
  }

  private struct (): { [key: string]: XmlRpcValue } {
    const members: { [key: string]: XmlRpcValue } = {}
    for (;;) {
      const member = this.next()
      if (member.closing) break // </struct>
      this.expect('name')
      const name = unescapeXml(this.next().before)
      members[name] = this.value()
      this.next() // </member>
    }
    this.next() // </value>
    return members
  }
}

export function decodeResponse (xml: string): XmlRpcValue {
  return new Reader(xml).response()
}

/** One XML-RPC call over SCGI on a unix socket (rtorrent's `network.scgi.open_local`). */
export async function scgiCall (socketPath: string, method: string, params: readonly XmlRpcValue[] = []): Promise<XmlRpcValue> {
  const body = Buffer.from(encodeCall(method, params))
  const headers = Buffer.from(`CONTENT_LENGTH\0${body.length}\0SCGI\x001\0`)
  const request = Buffer.concat([Buffer.from(`${headers.length}:`), headers, Buffer.from(','), body])
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(socketPath)
    socket.on('connect', () => socket.end(request))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks)))
  })
  const text = reply.toString('utf8')
  const split = text.indexOf('\r\n\r\n')
  return decodeResponse(split >= 0 ? text.slice(split + 4) : text)
}
