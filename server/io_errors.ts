/**
 * Classifies I/O errors: which ones only mean that the peer went away.
 *
 * Contract: `isPeerGone(err)` is true for the Deno errors a closed or reset socket produces (and
 * for errors whose `cause` is one); callers close quietly and log at debug level for those, with
 * `logPeerGone(logger, what, err)`, which describes the error (its stack: V8 formats a stack, and
 * Deno maps it to the sources, on first read, tens of microseconds) only when debug lines are
 * written. A client that resets its connections costs no stack formatting at the usual levels.
 */
import { describeError } from "./http/errors.ts";
import type { Logger } from "./log.ts";

/** Whether `err` means the peer went away (quiet close, debug log). */
export function isPeerGone(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause !== undefined && cause !== err && isPeerGone(cause)) return true;
  return err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.UnexpectedEof ||
    err instanceof Deno.errors.BadResource ||
    err instanceof Deno.errors.Interrupted ||
    err instanceof Deno.errors.NotConnected ||
    err instanceof Deno.errors.ConnectionAborted;
}

/** Logs `what: <the error>` at debug level, describing `err` only if debug lines are written. */
export function logPeerGone(
  logger: Pick<Logger, "enabled" | "log">,
  what: string,
  err: unknown,
): void {
  if (logger.enabled("debug")) logger.log("debug", `${what}: ${describeError(err)}`);
}
