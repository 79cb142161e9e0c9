/** Why a body was refused by storage; the fetch layer maps each to an `error.kind`. */
export const BodyRejection = {
  truncated: 'truncated',
  tooLarge: 'too_large',
} as const;
export type BodyRejection = (typeof BodyRejection)[keyof typeof BodyRejection];

/** A body that did not match what the origin promised, or outgrew the limit; nothing was stored. */
export class BodyRejectedError extends Error {
  override readonly name = 'BodyRejectedError';
  constructor(
    readonly reason: BodyRejection,
    readonly key: string,
    readonly receivedBytes: number,
    readonly limitBytes: number,
  ) {
    super(
      reason === BodyRejection.truncated
        ? `body for ${key} ended after ${receivedBytes} of ${limitBytes} bytes`
        : `body for ${key} exceeds the limit of ${limitBytes} bytes`,
    );
  }
}

/** The storage backend itself failed (unreachable, denied, disk full); retryable. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    message: string,
    readonly key: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An object that was asked for is not there. */
export class ObjectNotFoundError extends Error {
  override readonly name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`no object at ${key}`);
  }
}

/** A key that would escape the storage root or is otherwise unusable. */
export class InvalidKeyError extends Error {
  override readonly name = 'InvalidKeyError';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid storage key ${JSON.stringify(key)}: ${reason}`);
  }
}
