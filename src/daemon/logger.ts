import winston from 'winston'
import type { Settings } from '../config/settings.js'

/**
 * Structured logs: one JSON object per line by default, a readable line with `logFormat: "pretty"`;
 * to standard output, or with `logFile` to that file, rolled over at `logFileMaxSize` with
 * `logFilesKept` files kept: the newest is always `logFile` itself (then name1, name2, … older).
 */
export function createLogger (settings: Pick<Settings, 'logLevel' | 'logFormat'> & Partial<Pick<Settings, 'logFile' | 'logFileMaxSize' | 'logFilesKept'>>, stream: NodeJS.WritableStream = process.stdout): winston.Logger {
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
    transports: [settings.logFile
      ? new winston.transports.File({ filename: settings.logFile, maxsize: settings.logFileMaxSize ?? 50 * 1024 * 1024, maxFiles: settings.logFilesKept ?? 5, tailable: true })
      : new winston.transports.Stream({ stream })]
  })
}
