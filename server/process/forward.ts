/**
 * Log forwarding: a worker's stderr carries both its error log and its control lines
 * (`server/process/control.ts`); this splits them.
 *
 * Contract:
 * - `pumpStderr(stream, onMessage, forward)` reads until the stream ends (or breaks) and never
 *   rejects. Every complete line that parses as a control message goes to `onMessage`; every
 *   other line is handed to `forward` unchanged, batched per read, newlines kept. With
 *   `onMessage` null (a worker's stdout, `--capture-output`) no line is taken for a control
 *   message: whatever the app prints is forwarded.
 * - `forwardTo(sink)` is a `forward` that writes to `sink` and ignores a sink that is gone.
 * - A partial line longer than 65536 characters is forwarded as it is rather than buffered
 *   without bound; a last line without a newline gets one.
 */
import { CONTROL_PREFIX, type ControlMessage, parseControl } from "./control.ts";
import type { LogSink } from "../log.ts";

/** Longest partial line held back while waiting for its newline. */
const MAX_PENDING_CHARS = 65536;

/** Forwards `stream` line by line to `forward`, control lines to `onMessage`; see the module comment. */
export async function pumpStderr(
  stream: ReadableStream<Uint8Array>,
  onMessage: ((msg: ControlMessage) => void) | null,
  forward: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      let out = "";
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl + 1);
        buf = buf.slice(nl + 1);
        const msg = onMessage && line.startsWith(CONTROL_PREFIX) ? parseControl(line) : null;
        if (msg !== null) onMessage?.(msg);
        else out += line;
      }
      if (buf.length > MAX_PENDING_CHARS) {
        out += buf;
        buf = "";
      }
      if (out !== "") forward(out);
    }
  } catch {
    // The pipe broke: the worker is gone.
  }
  buf += decoder.decode();
  if (buf !== "") forward(buf.endsWith("\n") ? buf : buf + "\n");
}

/** A `forward` writing to `sink`; a sink that is gone (our own stderr closed) is ignored. */
export function forwardTo(sink: LogSink): (text: string) => void {
  return (text) => {
    try {
      sink.write(text);
    } catch {
      // Nothing sensible to do.
    }
  };
}
