import winston from 'winston'
import type { Settings } from '../config/settings.js'

/** Structured logs: one JSON object per line by default, a readable line with `logFormat: "pretty"`. */
export function createLogger (settings: Pick<Settings, 'logLevel' | 'logFormat'>, stream: NodeJS.WritableStream = process.stdout): winston.Logger {
  const format = settings.logFormat === 'json'
    ? winston.format.combine(winston.format.timestamp(), winston.format.json())
    : winston.format.combine(
      winston.format.timestamp({ format: 'HH:mm:ss' }),
      winston.format.printf(({ timestamp, level, message, ...meta }) => {
        const extra = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : ''
        return `${String(timestamp)} ${level} ${String(message)}${extra}`
      })
    )
  return winston.createLogger({
    level: settings.logLevel,
    format,
    transports: [new winston.transports.Stream({ stream })]
  })
}
