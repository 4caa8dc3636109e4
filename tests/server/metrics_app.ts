/**
 * Fixture app for the metrics tests (a fetch app): `/` answers 200, `/ws` upgrades to a
 * WebSocket that echoes every message, anything else answers 404.
 */

/** The app. */
export default {
  fetch(request: Request): Response {
    const path = new URL(request.url).pathname;
    if (path === "/ws") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (e) => socket.send(e.data);
      return response;
    }
    if (path === "/") return new Response("ok\n");
    return new Response("not found\n", { status: 404 });
  },
};
