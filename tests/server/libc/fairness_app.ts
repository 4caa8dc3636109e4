/**
 * Fixture app for the libc backend's fairness test: a 10 ms `setInterval` records how late each
 * tick fires, so the test can tell whether the event loop still runs app timers under load.
 *
 * Routes: `/timer` answers after awaiting a 5 ms timer; `/fetch?port=N` answers with the body of
 * a `fetch()` to `http://127.0.0.1:N/` (a second local server, Deno's own sockets); `/stats` returns the tick count and the
 * worst and mean lateness (ms) as JSON; `/reset` clears them; anything else answers `ok`.
 */
import type { App } from "../../../gateway/mod.ts";

const PERIOD_MS = 10;
let ticks = 0;
let maxLate = 0;
let sumLate = 0;
let last = performance.now();
const id = setInterval(() => {
  const now = performance.now();
  const late = Math.max(0, now - last - PERIOD_MS);
  last = now;
  ticks++;
  sumLate += late;
  if (late > maxLate) maxLate = late;
}, PERIOD_MS);
Deno.unrefTimer(id);

const enc = new TextEncoder();

/** The app. */
export const app: App = async (environ, startResponse) => {
  const path = String(environ.PATH_INFO);
  let body = "ok";
  if (path === "/timer") {
    await new Promise((r) => setTimeout(r, 5));
    body = "timer";
  } else if (path === "/fetch") {
    const port = Number(new URLSearchParams(String(environ.QUERY_STRING)).get("port"));
    const res = await fetch(`http://127.0.0.1:${port}/`);
    body = await res.text();
  } else if (path === "/stats") {
    body = JSON.stringify({ ticks, maxLateMs: maxLate, meanLateMs: ticks ? sumLate / ticks : 0 });
  } else if (path === "/reset") {
    ticks = 0;
    maxLate = 0;
    sumLate = 0;
    last = performance.now();
  }
  const bytes = enc.encode(body);
  startResponse("200 OK", [
    ["Content-Type", "text/plain"],
    ["Content-Length", String(bytes.length)],
  ]);
  return [bytes];
};
