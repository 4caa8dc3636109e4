/**
 * permessage-deflate negotiation (RFC 7692 §7.1), sans-IO: offers parsed from
 * `Sec-WebSocket-Extensions`, the first acceptable `permessage-deflate` offer taken, the rest
 * declined for unknown, repeated or malformed parameters, and what the response says.
 */
import assert from "node:assert/strict";
import {
  type DeflateAgreement,
  negotiateDeflate,
  parseExtensionOffers,
} from "../../../server/http/websocket_extensions.ts";

const BASE = "permessage-deflate; server_no_context_takeover";

function agreed(
  response: string,
  serverWindowBits = 15,
  clientWindowBits = 15,
  clientNoContextTakeover = false,
): DeflateAgreement {
  return { response, serverWindowBits, clientWindowBits, clientNoContextTakeover };
}

Deno.test("offers: names and parameters lower-cased, quoted values unquoted, broken ones marked", () => {
  assert.deepEqual(
    parseExtensionOffers(
      'Permessage-Deflate; Client_Max_Window_Bits, x-foo; a="b"; c=d, permessage-deflate',
    ),
    [
      { name: "permessage-deflate", params: [["client_max_window_bits", null]], valid: true },
      { name: "x-foo", params: [["a", "b"], ["c", "d"]], valid: true },
      { name: "permessage-deflate", params: [], valid: true },
    ],
  );
  assert.deepEqual(parseExtensionOffers(null), []);
  assert.deepEqual(parseExtensionOffers(" , "), []);
  for (const broken of ['x; a="open', "x; =1", "x; a=b c", 'x; a="b c"', "; a", "x y"]) {
    assert.equal(parseExtensionOffers(broken)[0]?.valid, false, broken);
  }
});

Deno.test("negotiation: what browsers and libraries offer, and what is answered", () => {
  const cases: [string | null, DeflateAgreement | null][] = [
    [null, null],
    ["x-webkit-deflate-frame", null],
    // Chromium and Firefox.
    ["permessage-deflate; client_max_window_bits", agreed(BASE)],
    // Python websockets' default offer.
    ["permessage-deflate; client_max_window_bits=12", agreed(BASE, 15, 12)],
    [
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      agreed(`${BASE}; client_no_context_takeover`, 15, 15, true),
    ],
    [
      "permessage-deflate; server_max_window_bits=10",
      agreed(`${BASE}; server_max_window_bits=10`, 10),
    ],
    [
      'permessage-deflate; server_max_window_bits="12"',
      agreed(`${BASE}; server_max_window_bits=12`, 12),
    ],
    // The first acceptable offer wins; unacceptable ones are skipped.
    [
      "permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits",
      agreed(BASE),
    ],
    ["permessage-deflate; unknown_param, permessage-deflate", agreed(BASE)],
  ];
  for (const [offer, want] of cases) assert.deepEqual(negotiateDeflate(offer), want, String(offer));
});

Deno.test("negotiation declines unknown, repeated, valued-flag and out-of-range parameters", () => {
  for (
    const offer of [
      "permessage-deflate; foo",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_no_context_takeover=1",
      "permessage-deflate; server_no_context_takeover=yes",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=8",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=09",
      "permessage-deflate; client_max_window_bits=7",
      "permessage-deflate; client_max_window_bits=15; client_max_window_bits=15",
      'permessage-deflate; client_max_window_bits="1 5"',
      "permessage-deflate; client_max_window_bits=",
    ]
  ) {
    assert.equal(negotiateDeflate(offer), null, offer);
  }
});
