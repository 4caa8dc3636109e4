/**
 * A WebSocket echo server as a plain fetch handler, written exactly as for `deno serve`.
 *
 * Contract:
 * - A request with `Upgrade: websocket` is upgraded with `Deno.upgradeWebSocket(request)`; lsbaws
 *   installs its own implementation before this module is imported. Each text or binary message
 *   is sent back unchanged, in order. The text message `!close <code> <reason>` makes the server
 *   close with that code and reason instead (server-initiated closing handshake).
 * - Query parameters: `max=<bytes>` sets the largest accepted message (lsbaws's
 *   `maxMessageBytes` option; default 16 MiB), `idle=<seconds>` the idle timeout. When the client
 *   offers the `echo` subprotocol it is selected.
 * - A malformed handshake is not caught here: the shim's `TypeError` escapes and lsbaws answers
 *   400 with the reason (under `deno serve` it would be a 500).
 * - Any other request gets a small HTML page with a browser client.
 * Run it with `lsbaws apps/websocket.ts` and open http://127.0.0.1:8000/.
 */

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>lsbaws WebSocket echo</title>
<input id="msg" value="hello" autofocus> <button id="send">send</button>
<pre id="log"></pre>
<script>
  const log = (s) => document.getElementById("log").textContent += s + "\\n";
  const ws = new WebSocket(location.href.replace(/^http/, "ws"));
  ws.onopen = () => log("open");
  ws.onmessage = (e) => log("< " + e.data);
  ws.onclose = (e) => log("closed " + e.code + " " + e.reason);
  document.getElementById("send").onclick = () => {
    const v = document.getElementById("msg").value;
    log("> " + v);
    ws.send(v);
  };
</script>
`;

function numberParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  return v === null || v === "" || !Number.isFinite(Number(v)) ? undefined : Number(v);
}

/** Echo handler (see the module comment). */
function fetch(request: Request): Response {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  const url = new URL(request.url);
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) =>
    p.trim()
  );
  const options = {
    protocol: offered.includes("echo") ? "echo" : undefined,
    idleTimeout: numberParam(url, "idle"),
    maxMessageBytes: numberParam(url, "max"),
  } as Deno.UpgradeWebSocketOptions;
  const { socket, response } = Deno.upgradeWebSocket(request, options);
  socket.onmessage = (event) => {
    const data = event.data;
    if (typeof data === "string" && data.startsWith("!close ")) {
      const [, code, ...reason] = data.split(" ");
      socket.close(Number(code), reason.join(" "));
      return;
    }
    socket.send(data);
  };
  return response;
}

export default { fetch };
