import { pino, type Logger } from 'pino';

/** The process logger: JSON lines on stdout (stderr for the CLI's human output is separate). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'fetchbox', ...bindings },
    redact: {
      paths: ['*.headers.authorization', '*.headers.Authorization', '*.headers.cookie', '*.proxyUrl', '*.token'],
      censor: '[redacted]',
    },
  });
}
