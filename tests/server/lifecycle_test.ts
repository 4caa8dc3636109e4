/**
 * Lifecycle of a running server as clients see it, on the socket backend `$LSBAWS_TEST_IO` names
 * (`deno task test` runs this file on both): `stopListening()` refuses new connections but keeps
 * serving kept-alive ones normally, and resolves only once the listening socket is closed; after `shutdown()` the next response on a kept-alive
 * connection says `Connection: close` and the connection ends; an idle kept-alive connection
 * closes at its keep-alive timeout, and `finished` waits for it. This is what moves the clients
 * of a recycled worker (`--max-requests`) to its successor.
 */
import assert from "node:assert/strict";
import { header, RawClient } from "../_support/raw_client.ts";
import { tcpSockets } from "../_support/proc_net.ts";
import { startApp } from "../_support/server.ts";

const APP = "tests/fixtures/apps/ops.ts:app";
const GET = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

/** Whether a new connection fails (refused, or reset by a listener closing under it). */
async function refused(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return false;
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused) return true;
    if (err instanceof Deno.errors.ConnectionReset) return true;
    throw err;
  }
}

Deno.test("stopListening: new connections are refused, kept-alive ones are served as usual", async () => {
  const t = await startApp(APP);
  const c = await RawClient.connect(t.port);
  try {
    await c.send(GET);
    assert.equal((await c.waitResponses(1)).responses.length, 1);
    t.server.stopListening();
    assert.ok(await refused(t.port), "the listener still accepts after stopListening()");
    await c.send(GET);
    const r = (await c.waitResponses(2)).responses;
    assert.equal(r.length, 2);
    assert.equal(r[1].status, 200);
    assert.equal(header(r[1], "connection"), undefined, "not shutting down: no Connection: close");
    assert.ok(await c.silentFor(100), "the kept-alive connection stays open");
  } finally {
    await c.close();
    await t.close();
  }
});

/** Listening TCP sockets on `port` (all processes). */
function listeningOn(port: number): number {
  return tcpSockets().filter((s) => s.listening && s.localPort === port).length;
}

Deno.test("stopListening resolves once the socket is closed, not only asked to close", async () => {
  const t = await startApp(APP);
  try {
    assert.equal(listeningOn(t.port), 1);
    // A Deno listener closed with its accept() pending keeps its socket until that call settles;
    // a supervisor told "closed" before then could send clients to a socket that resets them.
    await t.server.stopListening();
    assert.equal(listeningOn(t.port), 0, "still listening when stopListening() resolved");
  } finally {
    await t.close();
  }
});

Deno.test("shutdown: the next response on a kept-alive connection says Connection: close, then it ends", async () => {
  const t = await startApp(APP);
  const c = await RawClient.connect(t.port);
  try {
    await c.send(GET);
    assert.equal((await c.waitResponses(1)).responses.length, 1);
    const finished = t.server.shutdown(10_000, 0);
    assert.ok(await refused(t.port), "the listener still accepts after shutdown()");
    await c.send(GET);
    const r = (await c.waitResponses(2)).responses;
    assert.equal(r.length, 2);
    assert.equal(header(r[1], "connection")?.toLowerCase(), "close");
    assert.ok(await c.waitClosed(2000), "the server did not close the connection");
    const done = await Promise.race([finished.then(() => true), delay(2000).then(() => false)]);
    assert.ok(done, "finished did not resolve once the last connection closed");
  } finally {
    await c.close();
    await t.close();
  }
});

Deno.test("shutdown: an idle kept-alive connection closes at its keep-alive timeout, and finished waits for it", async () => {
  const t = await startApp(APP, { keepAliveTimeoutMs: 400, timeoutCheckIntervalMs: 50 });
  const c = await RawClient.connect(t.port);
  try {
    await c.send(GET);
    assert.equal((await c.waitResponses(1)).responses.length, 1);
    const started = Date.now();
    let finishedAt = 0;
    const finished = t.server.shutdown(10_000, 0).then(() => finishedAt = Date.now());
    assert.ok(await c.waitClosed(3000), "the idle connection was not closed");
    const closedAfter = Date.now() - started;
    assert.ok(closedAfter >= 250, `closed after ${closedAfter} ms, before its keep-alive timeout`);
    await finished;
    assert.ok(finishedAt - started >= 250, "finished resolved while a connection was open");
    assert.equal(c.parse().responses.length, 1, "no bytes after the response");
  } finally {
    await c.close();
    await t.close();
  }
});

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
