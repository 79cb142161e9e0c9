import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

/** How log lines look: `json` for machines, `pretty` for a person at a terminal, `auto` picks by stdout. */
export const LogFormat = { auto: 'auto', json: 'json', pretty: 'pretty' } as const;
export type LogFormat = (typeof LogFormat)[keyof typeof LogFormat];

/** Credential headers (any of the usual spellings), at the top level or one object down. */
const CREDENTIAL_FIELDS = [
  '.authorization',
  '.Authorization',
  '.cookie',
  '.Cookie',
  '["proxy-authorization"]',
  '["Proxy-Authorization"]',
] as const;
/** Log fields never written as they are: credential headers, proxy URLs (user:password@), tokens. */
const REDACTED_PATHS = [
  ...CREDENTIAL_FIELDS.flatMap((field) => [`headers${field}`, `*.headers${field}`]),
  'proxyUrl',
  '*.proxyUrl',
  'token',
  '*.token',
];

/** `auto` resolved: pretty when stdout is a terminal (a person runs `npm run dev`), JSON otherwise. */
export function resolveLogFormat(format: LogFormat, stdoutIsTty: boolean = process.stdout.isTTY === true): 'json' | 'pretty' {
  if (format === LogFormat.auto) return stdoutIsTty ? LogFormat.pretty : LogFormat.json;
  return format;
}

/**
 * The pretty stream: one coloured line per record, in-process and synchronous (no worker thread),
 * so a crash never loses the last lines. The fields every line carries are left out.
 */
function prettyStream(colorize: boolean, destination?: NodeJS.WritableStream): DestinationStream {
  return pinoPretty({
    colorize,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    ...(destination ? { destination } : {}),
  });
}

/**
 * The process logger: JSON lines on stdout for log shippers, or readable lines on a terminal
 * (see {@link resolveLogFormat}); the CLI's own human output goes to stderr and is separate.
 */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  format: LogFormat = LogFormat.json,
  /** Where lines go instead of stdout (tests). */
  destination?: NodeJS.WritableStream,
): Logger {
  const options = {
    level,
    base: { service: 'fetchbox', ...bindings },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (resolveLogFormat(format) === LogFormat.pretty)
    return pino(options, prettyStream(destination === undefined && process.stdout.isTTY === true, destination));
  return destination ? pino(options, destination as DestinationStream) : pino(options);
}
