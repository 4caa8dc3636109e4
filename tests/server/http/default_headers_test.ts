/**
 * `--header NAME:VALUE` (uvicorn's): the values become header lines in order, with the value's
 * surrounding blanks trimmed; names that are not tokens, values that are not printable ASCII and
 * the fields the server owns are refused with a message naming the value.
 */
import assert from "node:assert/strict";
import { parseDefaultHeaders } from "../../../server/http/header_lines.ts";

Deno.test("--header values become header lines, in order, values trimmed", () => {
  assert.equal(parseDefaultHeaders([]), "");
  assert.equal(
    parseDefaultHeaders([
      "X-Frame-Options: DENY",
      "Strict-Transport-Security:max-age=63072000",
      "X-Empty:",
      "X-Colon: a:b \t",
    ]),
    "X-Frame-Options: DENY\r\nStrict-Transport-Security: max-age=63072000\r\nX-Empty: \r\nX-Colon: a:b\r\n",
  );
});

Deno.test("--header refuses what cannot be a header line and what the server owns", () => {
  const cases: Array<[string, RegExp]> = [
    ["NoColon", /^Error: --header 'NoColon': expected NAME:VALUE$/],
    [": value", /expected NAME:VALUE/],
    ["X Bad: 1", /'X Bad' is not a header name/],
    ["X-Bad : 1", /'X-Bad ' is not a header name/],
    ["X-A: a\r\nX-B: b", /the value must be printable ASCII/],
    ["X-A: a\u0000", /the value must be printable ASCII/],
    ["X-A: caf\u00e9", /the value must be printable ASCII/],
    ["Date: x", /Date is the server's own \(see --server-header and --date-header\)/],
    ["server: x", /server is the server's own/],
    ["Content-Length: 1", /Content-Length is the server's own/],
    ["Transfer-Encoding: chunked", /Transfer-Encoding is the server's own/],
    ["Connection: close", /Connection is connection-specific/],
    ["Keep-Alive: timeout=5", /Keep-Alive is connection-specific/],
    ["Upgrade: h2c", /Upgrade is connection-specific/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(() => parseDefaultHeaders([spec]), re, JSON.stringify(spec));
  }
});
