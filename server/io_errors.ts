/**
 * Classifies I/O errors: which ones only mean that the peer went away.
 *
 * Contract: `isPeerGone(err)` is true for the Deno errors a closed or reset socket produces (and
 * for errors whose `cause` is one); callers close quietly and log at debug level for those.
 */

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
