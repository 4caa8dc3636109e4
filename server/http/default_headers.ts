/**
 * Default response headers (`--header NAME:VALUE`, uvicorn's `--header`): fields the server adds
 * to every response it writes for a request.
 *
 * Contract (sans-IO, pure):
 * - `parseDefaultHeaders(specs)` reads `NAME:VALUE` values (the value's surrounding spaces and
 *   tabs trimmed) and returns them as header lines, `Name: value\r\n` each in the order given, ""
 *   for none. It throws `Error` naming the value for a missing colon, a name that is not a token,
 *   a value that is not printable ASCII (CR, LF, NUL and other controls included), and for the
 *   fields the server owns: Date and Server (`--date-header`, `--server-header`), Content-Length,
 *   Transfer-Encoding and the connection-specific fields.
 * - The lines are added as given, also when the app sends a field of the same name (as uvicorn
 *   does): they are defaults for what every response should carry, not overrides.
 */
import { checkResponseHeader } from "./response_head.ts";

const SERVER_OWNED = new Set(["date", "server", "content-length", "transfer-encoding"]);

/** The header lines `--header` values name; see the module comment. */
export function parseDefaultHeaders(specs: readonly string[]): string {
  let lines = "";
  for (const spec of specs) {
    const colon = spec.indexOf(":");
    if (colon <= 0) throw new Error(`--header '${spec}': expected NAME:VALUE`);
    const name = spec.slice(0, colon);
    const value = spec.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (SERVER_OWNED.has(name.toLowerCase())) {
      throw new Error(
        `--header '${spec}': ${name} is the server's own (see --server-header and --date-header)`,
      );
    }
    const rule = checkResponseHeader(name, value);
    if (rule === "header-name-token") {
      throw new Error(`--header '${spec}': '${name}' is not a header name`);
    }
    if (rule === "hop-by-hop") {
      throw new Error(`--header '${spec}': ${name} is connection-specific, the server's own`);
    }
    if (rule !== null || /[^\t\x20-\x7e]/.test(value)) {
      throw new Error(`--header '${spec}': the value must be printable ASCII`);
    }
    lines += `${name}: ${value}\r\n`;
  }
  return lines;
}
