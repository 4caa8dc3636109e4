/**
 * `103 Early Hints` (RFC 8297): header fields, typically `Link: </style.css>; rel=preload`, sent
 * ahead of the final response so a browser can start fetching while the app still works.
 *
 * Contract (sans-IO, pure):
 * - `encodeEarlyHints(headers)` is the interim response's bytes: `HTTP/1.1 103 Early Hints`, the
 *   fields in the order given, the empty line. Every field is checked as a final head's are
 *   (`checkResponseHeader`: a token name, no CR, LF, NUL or other controls, latin-1, no
 *   connection-specific field), and Content-Length, Date and Server, which only a final response
 *   carries, are refused too: a `ResponseError` names the rule. An empty list is allowed.
 * - When to send it is the caller's: only to an HTTP/1.1 client (HTTP/1.0 ones do not expect
 *   1xx responses) and only before the final response's head (RFC 9110 §15.2).
 */
import { encodeLatin1 } from "./bytes.ts";
import { ResponseError } from "./errors.ts";
import { checkResponseHeader } from "./response_head.ts";

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
