/**
 * Header lines the server writes beside an app's final head: default fields (`--header
 * NAME:VALUE`, uvicorn's `--header`) and `103 Early Hints` (RFC 8297), fields such as
 * `Link: </style.css>; rel=preload` sent ahead of the final response so a browser can start
 * fetching while the app still works.
 *
 * Contract (sans-IO, pure):
 * - `parseDefaultHeaders(specs)` reads `NAME:VALUE` values (the value's surrounding spaces and
 *   tabs trimmed) and returns them as header lines, `Name: value\r\n` each in the order given, ""
 *   for none. It throws `Error` naming the value for a missing colon, a name that is not a token,
 *   a value that is not printable ASCII (CR, LF, NUL and other controls included), and for the
 *   fields the server owns: Date and Server (`--date-header`, `--server-header`), Content-Length,
 *   Transfer-Encoding and the connection-specific fields. The lines are added as given, also when
 *   the app sends a field of the same name (as uvicorn does): they are defaults for what every
 *   response should carry, not overrides.
 * - `encodeEarlyHints(headers)` is the interim response's bytes: `HTTP/1.1 103 Early Hints`, the
 *   fields in the order given, the empty line. Every field is checked as a final head's are
 *   (`checkResponseHeader`: a token name, no CR, LF, NUL or other controls, latin-1, no
 *   connection-specific field), and Content-Length, Date and Server, which only a final response
 *   carries, are refused too: a `ResponseError` names the rule. An empty list is allowed. When to
 *   send it is the caller's: only to an HTTP/1.1 client (HTTP/1.0 ones do not expect 1xx
 *   responses) and only before the final response's head (RFC 9110 §15.2).
 */
import { encodeLatin1 } from "./bytes.ts";
import { ResponseError } from "./errors.ts";
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

const FINAL_ONLY = new Set(["content-length", "date", "server"]);

/** The `103 Early Hints` response for `headers`; see the module comment. */
export function encodeEarlyHints(headers: ReadonlyArray<readonly [string, string]>): Uint8Array {
  let text = "HTTP/1.1 103 Early Hints\r\n";
  for (const [name, value] of headers) {
    const rule = checkResponseHeader(name, value);
    if (rule !== null) throw new ResponseError(rule, `early hint header ${name}`);
    if (FINAL_ONLY.has(name.toLowerCase())) {
      throw new ResponseError("early-hints-field", `early hint header ${name}`);
    }
    text += `${name}: ${value}\r\n`;
  }
  return encodeLatin1(text + "\r\n");
}
