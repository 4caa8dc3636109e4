/**
 * `Deno.upgradeWebSocket` for requests lsbaws serves.
 *
 * Contract:
 * - `installUpgradeWebSocket()` (idempotent) replaces `Deno.upgradeWebSocket` with
 *   `upgradeWebSocket` below (the swap itself is in `_deno_internals.ts`) and keeps the built-in
 *   one, which still handles every `Request` that lsbaws did not build (`exchangeOf(request)` is
 *   undefined), e.g. one from `Deno.serve`. It must run before the app module is imported,
 *   because frameworks (oak) bind the function when they load; `gateway/loader.ts` calls it first
 *   thing in `loadApp`. `uninstallUpgradeWebSocket()` puts the built-in one back (for tests).
 * - `upgradeWebSocket(request, options)` validates the opening handshake (GET, HTTP/1.1,
 *   `Upgrade: websocket`, `Connection: upgrade`, `Sec-WebSocket-Version: 13`, a key that is the
 *   base64 of 16 bytes, no request body) and throws `WebSocketHandshakeError` (a `TypeError`, as
 *   Deno throws) when it fails. Otherwise it returns `{socket, response}` like Deno: a
 *   `ServerWebSocket` in `CONNECTING` and a `101` Response carrying `Upgrade`, `Connection`,
 *   `Sec-WebSocket-Accept` and, when `options.protocol` names one of the offered subprotocols,
 *   `Sec-WebSocket-Protocol` (an unoffered one throws `TypeError`, as Deno does), and
 *   `Sec-WebSocket-Extensions` when permessage-deflate was offered and is accepted
 *   (`server/http/websocket_extensions.ts`; Deno's own does not offer it). Extra options:
 *   `maxMessageBytes` (default 16 MiB), `closeTimeout` (seconds) and `perMessageDeflate`
 *   (default: the setting); `idleTimeout` as Deno's.
 * - The socket is recorded as the exchange's pending upgrade. The fetch handler
 *   (`gateway/fetch.ts`) then calls `completeUpgrade` when the handler returns a `101`: it encodes
 *   the head from the Response's headers (only here may Upgrade and Connection appear), takes the
 *   socket over and starts the WebSocket. A `101` without a pending upgrade is a contract error
 *   (500). If the handler throws or answers anything else, `abandonUpgrade` fires `error` and
 *   `close` (1006) on the socket.
 * - A `WebSocketHandshakeError` that escapes the handler is answered with its status (400) and
 *   reason by the fetch handler instead of a 500: a bad handshake is the client's fault.
 * Imports: the request side of the fetch path (`exchangeOf`), never the handler (no cycle).
 */
import type { Exchange, SocketDuplex } from "../server/exchange.ts";
import { checkResponseHeader, encodeResponseHead } from "../server/http/response_head.ts";
import { httpDate } from "../server/http/http_date.ts";
import {
  acceptKey,
  checkHandshake,
  type HandshakeFailure,
  hasToken,
  parseProtocols,
} from "../server/http/websocket_handshake.ts";
import { abandonSocket, attachSocket, ServerWebSocket } from "../server/websocket.ts";
import { type DeflateAgreement, negotiateDeflate } from "../server/http/websocket_extensions.ts";
import { type MessageCodec, webSocketDefaults } from "../server/websocket_options.ts";
import {
  builtinUpgradeWebSocket,
  replaceUpgradeWebSocket,
  restoreUpgradeWebSocket,
} from "./_deno_internals.ts";
import { AppContractError } from "./errors.ts";
import { exchangeOf } from "./fetch_request.ts";

/** Options of `upgradeWebSocket`: Deno's plus lsbaws's limits. */
export interface UpgradeWebSocketOptions {
  /** The subprotocol to select; must be one the client offered. */
  protocol?: string;
  /** Seconds of silence before a ping (at half) and a 1001 close (at full); 0 disables. */
  idleTimeout?: number;
  /** Largest message accepted after reassembly (default 16 MiB); larger ones close with 1009. */
  maxMessageBytes?: number;
  /** Seconds to wait for the client's close frame after `socket.close()` (default 5). */
  closeTimeout?: number;
  /**
   * Accept permessage-deflate when the client offers it (default: the
   * `--websocket-per-message-deflate` setting, on).
   */
  perMessageDeflate?: boolean;
}

/** What `upgradeWebSocket` returns (the shape of `Deno.WebSocketUpgrade`). */
export interface WebSocketUpgrade {
  /** The 101 response to return from the handler. */
  response: Response;
  /** The socket; it opens once the 101 was sent. */
  socket: WebSocket;
}

/** The opening handshake is invalid; the fetch handler answers `status` with `message`. */
export class WebSocketHandshakeError extends TypeError {
  /** Status to answer with (400). */
  readonly status: number;
  /** Extra response headers (`Sec-WebSocket-Version: 13` for a version mismatch). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Creates the error from a `checkHandshake` failure. */
  constructor(failure: HandshakeFailure) {
    super(failure.reason);
    this.name = "WebSocketHandshakeError";
    this.status = failure.status;
    this.headers = failure.headers;
  }
}

/** A socket waiting for its 101, with what its handshake agreed for compression. */
interface Pending {
  readonly socket: ServerWebSocket;
  readonly deflate: DeflateAgreement | null;
  readonly maxMessageBytes: number;
}

const PENDING = new WeakMap<Exchange, Pending>();

/** Installs `upgradeWebSocket` as `Deno.upgradeWebSocket` (idempotent); see the module comment. */
export function installUpgradeWebSocket(): void {
  replaceUpgradeWebSocket(upgradeWebSocket);
}

/** Restores the built-in `Deno.upgradeWebSocket` (for tests). */
export function uninstallUpgradeWebSocket(): void {
  restoreUpgradeWebSocket(upgradeWebSocket);
}

function socketUrl(url: string): string {
  if (url.startsWith("http:")) return "ws:" + url.slice(5);
  if (url.startsWith("https:")) return "wss:" + url.slice(6);
  return url;
}

/** Upgrades a request lsbaws built to a WebSocket; see the module comment. */
export function upgradeWebSocket(
  request: Request,
  options: UpgradeWebSocketOptions = {},
): WebSocketUpgrade {
  const ex = exchangeOf(request);
  if (ex === undefined) {
    const builtin = builtinUpgradeWebSocket();
    if (builtin !== null) return builtin(request, options) as WebSocketUpgrade;
    throw new TypeError("upgradeWebSocket: this Request was not received by lsbaws");
  }
  if (PENDING.has(ex)) throw new TypeError("upgradeWebSocket: this request was already upgraded");
  const h = request.headers;
  const failure = checkHandshake({
    method: request.method,
    version: ex.head.version,
    header: (name) => h.get(name),
  });
  if (failure) throw new WebSocketHandshakeError(failure);
  if (ex.body.contentLength !== 0) {
    throw new WebSocketHandshakeError({
      reason: "WebSocket handshake must not have a body",
      status: 400,
      headers: [],
    });
  }
  const headers: Array<[string, string]> = [
    ["upgrade", "websocket"],
    ["connection", "Upgrade"],
    ["sec-websocket-accept", acceptKey(h.get("sec-websocket-key")!)],
  ];
  let protocol = "";
  if (options.protocol) {
    if (!parseProtocols(h.get("sec-websocket-protocol")).includes(options.protocol)) {
      throw new TypeError(
        `Protocol '${options.protocol}' not in the request's protocol list (non negotiable)`,
      );
    }
    protocol = options.protocol;
    headers.push(["sec-websocket-protocol", protocol]);
  }
  const defaults = webSocketDefaults();
  const deflate = (options.perMessageDeflate ?? defaults.websocketPerMessageDeflate)
    ? negotiateDeflate(h.get("sec-websocket-extensions"))
    : null;
  if (deflate !== null) headers.push(["sec-websocket-extensions", deflate.response]);
  const maxMessageBytes = options.maxMessageBytes ?? defaults.websocketMaxMessageBytes;
  const socket = new ServerWebSocket({
    protocol,
    url: socketUrl(request.url),
    maxMessageBytes,
    idleTimeout: options.idleTimeout,
    closeTimeout: options.closeTimeout,
    // Not a closure over `ex`: the socket outlives the exchange (see `Exchange.log`).
    log: ex.log,
  });
  PENDING.set(ex, { socket, deflate, maxMessageBytes });
  return { socket, response: new Response(null, { status: 101, headers }) };
}

/** Whether `upgradeWebSocket` was called for this exchange and the socket awaits its 101. */
export function hasPendingUpgrade(ex: Exchange): boolean {
  return PENDING.has(ex);
}

/** The handler did not answer 101 (or threw): the pending socket fires `error` and `close`. */
export function abandonUpgrade(ex: Exchange, reason: unknown): void {
  const pending = PENDING.get(ex);
  if (pending === undefined) return;
  PENDING.delete(ex);
  abandonSocket(pending.socket, reason);
}

/**
 * Sends the 101 built from `resp`'s headers, takes the connection over and opens the pending
 * socket. Throws `AppContractError` (500) when there is no pending upgrade or a header is invalid.
 */
export async function completeUpgrade(ex: Exchange, resp: Response): Promise<void> {
  const pending = PENDING.get(ex);
  if (pending === undefined) {
    throw logged(
      ex,
      new AppContractError(
        "fetch-101",
        "the handler answered 101 without calling Deno.upgradeWebSocket(request) on this request",
      ),
    );
  }
  PENDING.delete(ex);
  const socket = pending.socket;
  let head: Uint8Array;
  let codec: MessageCodec | null;
  try {
    resp.body?.cancel().catch(() => {});
    head = encodeSwitchHead(resp);
    codec = await codecFor(pending, resp.headers.get("sec-websocket-extensions"));
  } catch (err) {
    abandonSocket(socket, err);
    throw logged(ex, err);
  }
  let taken: { conn: SocketDuplex; buffered: Uint8Array };
  try {
    taken = await ex.takeover(head);
  } catch (err) {
    abandonSocket(socket, err);
    throw err;
  }
  attachSocket(socket, taken.conn, taken.buffered, codec);
}

/**
 * The codec for what the 101 says: permessage-deflate when it carries the agreed
 * `Sec-WebSocket-Extensions` value (the codec's module, and zlib with it, are loaded only then),
 * none when the handler removed the header; any other value is a contract error (500).
 */
async function codecFor(p: Pending, sent: string | null): Promise<MessageCodec | null> {
  if (sent === null) return null;
  if (p.deflate === null || sent !== p.deflate.response) {
    throw new AppContractError(
      "fetch-101",
      `Sec-WebSocket-Extensions: ${sent} was not negotiated by upgradeWebSocket`,
    );
  }
  const { PerMessageDeflate } = await import("../server/websocket_deflate.ts");
  return new PerMessageDeflate(p.deflate, p.maxMessageBytes);
}

/** Logs a contract error for `ex` (the connection only logs those at debug level). */
function logged(ex: Exchange, err: unknown): unknown {
  const msg = err instanceof Error ? err.message : String(err);
  ex.log("error", `${ex.head.method} ${ex.head.target}: ${msg}`);
  return err;
}

/** Encodes the `101 Switching Protocols` head from a Response (Upgrade/Connection allowed). */
function encodeSwitchHead(resp: Response): Uint8Array {
  const headers: Array<[string, string]> = [];
  let upgrade = "";
  let connection = "";
  const all: Array<[string, string]> = [];
  for (const [name, value] of resp.headers) if (name !== "set-cookie") all.push([name, value]);
  for (const c of resp.headers.getSetCookie()) all.push(["set-cookie", c]);
  for (const [name, value] of all) {
    const rule = checkResponseHeader(name, value);
    if (rule === "hop-by-hop" && name === "upgrade") upgrade = value;
    else if (rule === "hop-by-hop" && name === "connection") connection = value;
    else if (rule !== null) {
      throw new AppContractError("fetch-response-head", `header ${name}: ${rule}`);
    } else headers.push([name, value]);
  }
  if (!hasToken(upgrade, "websocket") || !hasToken(connection, "upgrade")) {
    throw new AppContractError(
      "fetch-101",
      "a 101 response must carry Upgrade: websocket and Connection: Upgrade",
    );
  }
  return encodeResponseHead({
    status: 101,
    reason: resp.statusText || "Switching Protocols",
    headers,
    date: httpDate(Date.now()),
    server: "",
    framing: "none",
    connection: "",
    extra: `Upgrade: ${upgrade}\r\nConnection: ${connection}\r\n`,
  });
}
