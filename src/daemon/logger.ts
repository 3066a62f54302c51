import winston from 'winston'
import type { Settings } from '../config/settings.js'

/** A log file rolls over at this size, and this many are kept. */
const LOG_FILE_BYTES = 50 * 1024 * 1024
const LOG_FILES_KEPT = 5

/**
 * Structured logs: one JSON object per line by default, a readable line with `logFormat: "pretty"`;
 * to standard output, or with `logFile` to that file (rolled over at 50 MiB, five kept).
 */
export function createLogger (settings: Pick<Settings, 'logLevel' | 'logFormat'> & { logFile?: string | null }, stream: NodeJS.WritableStream = process.stdout): winston.Logger {
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
      ? new winston.transports.File({ filename: settings.logFile, maxsize: LOG_FILE_BYTES, maxFiles: LOG_FILES_KEPT, tailable: true })
      : new winston.transports.Stream({ stream })]
  })
}
