import type { Readable, Writable } from 'node:stream';

/** Streams a command talks through; tests pass their own so they can read what a command printed. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** Exit statuses shared by every subcommand. */
export const ExitCode = {
  ok: 0,
  /** Bad usage or bad input that stopped the command before it did its work. */
  usage: 1,
  /** The command ran, but some inputs failed (the others were still processed). */
  partialFailure: 2,
  /** The command ran and declined to deliver its result, saying why (fit: the fitted map loses to a single model on
   *  validation, so nothing is written and the bundle keeps its map). */
  refused: 3,
} as const;

/** One `orthanc-t3 <name>` subcommand; argv excludes the subcommand's own name. */
export interface CliCommand {
  name: string;
  summary: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

/** Thrown for bad usage; main prints the message and exits with ExitCode.usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
