/**
 * WebSocket extension negotiation (RFC 6455 §9.1) for permessage-deflate (RFC 7692), sans-IO.
 *
 * Contract (pure, synchronous; imports nothing):
 * - `parseExtensionOffers(value)` splits a `Sec-WebSocket-Extensions` request value into offers
 *   (`name; param; param=value, ...`), names and parameter names lower-cased, quoted values
 *   unquoted. An offer whose syntax is broken (an empty or non-token name or parameter, an
 *   unterminated quote, a value that is not a token once unquoted) is kept with `valid: false`,
 *   so the negotiation declines it and goes on with the next one.
 * - `negotiateDeflate(value)` accepts the first valid `permessage-deflate` offer whose parameters
 *   lsbaws can honour and returns what was agreed, or null (no offer, or none acceptable: the
 *   socket then runs without compression, which is how a server declines, RFC 7692 §5):
 *   - Parameters: `server_no_context_takeover`, `client_no_context_takeover` (no value),
 *     `server_max_window_bits=N`, `client_max_window_bits[=N]` (N a decimal from 8 to 15
 *     without leading zeros). An unknown, repeated or malformed parameter declines the offer
 *     (§7.1).
 *   - The server always compresses each message on its own (`server_no_context_takeover` in
 *     every response, §7.1.1.1 allows it unasked), so what it sends never depends on earlier
 *     messages and nothing is kept per socket for sending.
 *   - `server_max_window_bits=N` is echoed and the server's window limited to it. N = 8 declines
 *     the offer: zlib cannot produce a raw deflate stream with a 256-byte window.
 *   - The client's own context takeover is accepted (browsers use it): `clientWindowBits` (15
 *     unless the offer names less) says how much of the earlier messages the decompressor keeps.
 *     `client_no_context_takeover` is echoed when offered. `client_max_window_bits` is never
 *     named in the response (allowed, §7.1.2.2), so the client keeps its default.
 */

/** One offer from `Sec-WebSocket-Extensions`. */
export interface ExtensionOffer {
  /** Extension name, lower-cased. */
  readonly name: string;
  /** Parameters in order: name (lower-cased) and value (null when absent), unquoted. */
  readonly params: ReadonlyArray<readonly [string, string | null]>;
  /** False when the offer's syntax is broken (it is then declined). */
  readonly valid: boolean;
}

/** What a `permessage-deflate` negotiation agreed on. */
export interface DeflateAgreement {
  /** The `Sec-WebSocket-Extensions` response value. */
  readonly response: string;
  /** LZ77 window (bits) the server compresses with: 15, or `server_max_window_bits`. */
  readonly serverWindowBits: number;
  /** Window (bits) the client compresses with: 15, or its `client_max_window_bits`. */
  readonly clientWindowBits: number;
  /** The client starts each message with an empty window (nothing to keep between messages). */
  readonly clientNoContextTakeover: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const WINDOW_BITS = /^(?:8|9|1[0-5])$/;

/** Splits `text` at `sep` outside double quotes; null when a quote is left open. */
function splitOutsideQuotes(text: string, sep: string): string[] | null {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === sep) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) return null;
  out.push(text.slice(start));
  return out;
}

/** A parameter value: a token, or a quoted string whose content is a token; null if neither. */
function paramValue(raw: string): string | null {
  let v = raw.trim();
  if (v.startsWith('"')) {
    if (v.length < 2 || !v.endsWith('"')) return null;
    v = v.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return TOKEN.test(v) ? v : null;
}

function parseOffer(text: string): ExtensionOffer {
  const parts = splitOutsideQuotes(text, ";");
  const name = (parts?.[0] ?? "").trim().toLowerCase();
  if (parts === null || !TOKEN.test(name)) return { name, params: [], valid: false };
  const params: Array<[string, string | null]> = [];
  for (const part of parts.slice(1)) {
    const eq = part.indexOf("=");
    const key = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!TOKEN.test(key)) return { name, params, valid: false };
    if (eq === -1) {
      params.push([key, null]);
      continue;
    }
    const value = paramValue(part.slice(eq + 1));
    if (value === null) return { name, params, valid: false };
    params.push([key, value]);
  }
  return { name, params, valid: true };
}

/** Parses a `Sec-WebSocket-Extensions` value; see the module comment. */
export function parseExtensionOffers(value: string | null): ExtensionOffer[] {
  if (value === null) return [];
  const offers = splitOutsideQuotes(value, ",");
  if (offers === null) return [{ name: "", params: [], valid: false }];
  return offers.filter((o) => o.trim() !== "").map(parseOffer);
}

/** The agreement for one `permessage-deflate` offer, or null when it cannot be honoured. */
function acceptDeflate(offer: ExtensionOffer): DeflateAgreement | null {
  const seen = new Set<string>();
  let serverBits: number | null = null;
  let clientBits = 15;
  let clientNoTakeover = false;
  for (const [key, value] of offer.params) {
    if (seen.has(key)) return null;
    seen.add(key);
    switch (key) {
      case "server_no_context_takeover":
        if (value !== null) return null;
        break;
      case "client_no_context_takeover":
        if (value !== null) return null;
        clientNoTakeover = true;
        break;
      case "server_max_window_bits":
        if (value === null || !WINDOW_BITS.test(value) || value === "8") return null;
        serverBits = Number(value);
        break;
      case "client_max_window_bits":
        if (value !== null) {
          if (!WINDOW_BITS.test(value)) return null;
          clientBits = Number(value);
        }
        break;
      default:
        return null;
    }
  }
  let response = "permessage-deflate; server_no_context_takeover";
  if (clientNoTakeover) response += "; client_no_context_takeover";
  if (serverBits !== null) response += `; server_max_window_bits=${serverBits}`;
  return {
    response,
    serverWindowBits: serverBits ?? 15,
    clientWindowBits: clientBits,
    clientNoContextTakeover: clientNoTakeover,
  };
}

/** Negotiates permessage-deflate from a `Sec-WebSocket-Extensions` value; see the module comment. */
export function negotiateDeflate(value: string | null): DeflateAgreement | null {
  for (const offer of parseExtensionOffers(value)) {
    if (!offer.valid || offer.name !== "permessage-deflate") continue;
    const agreed = acceptDeflate(offer);
    if (agreed !== null) return agreed;
  }
  return null;
}
