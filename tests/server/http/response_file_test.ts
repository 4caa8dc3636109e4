/**
 * `ResponseWriter.fileRoom`/`fileSent`: a file body the driver sends itself, under each framing.
 */
import assert from "node:assert/strict";
import { ResponseWriter } from "../../../server/http/response_writer.ts";

function writer(method = "GET", minor = 1): ResponseWriter {
  const w = new ResponseWriter({
    serverHeader: "",
    date: () => "Thu, 01 Jan 1970 00:00:00 GMT",
    server: { shuttingDown: false },
    unreadBodyCloses: () => false,
  });
  w.reset(method, minor, true);
  return w;
}

function queued(w: ResponseWriter): string {
  const pieces = w.takeOutput();
  return pieces.map((p) => new TextDecoder().decode(p)).join("");
}

Deno.test("fileRoom: with a Content-Length the head is queued and the file may fill it", () => {
  const w = writer();
  w.head(200, [["Content-Length", "100"]]);
  assert.equal(w.fileRoom(100), 100);
  const head = queued(w);
  assert.ok(head.startsWith("HTTP/1.1 200 OK\r\n") && head.endsWith("\r\n\r\n"), head);
  assert.ok(head.includes("Content-Length: 100\r\n"), head);
  w.fileSent(100);
  assert.equal(w.end(), 0);
  assert.equal(w.closeAfter, false);
  assert.equal(w.bytesOut > 100, true);
});

Deno.test("fileRoom: more than declared is clipped (overrun), fewer sent ends short", () => {
  const w = writer();
  w.head(200, [["Content-Length", "10"]]);
  assert.equal(w.fileRoom(50), 10);
  assert.equal(w.overrun, true);
  assert.equal(w.closeAfter, true);
  const s = writer();
  s.head(200, [["Content-Length", "10"]]);
  assert.equal(s.fileRoom(10), 10);
  s.fileSent(4);
  assert.equal(s.end(), 6);
  assert.equal(s.closeAfter, true);
});

Deno.test("fileRoom: 0 for HEAD and 304, -1 under chunked framing, n when close-delimited", () => {
  const head = writer("HEAD");
  head.head(200, [["Content-Length", "10"]]);
  assert.equal(head.fileRoom(10), 0);
  const notModified = writer();
  notModified.head(304, []);
  assert.equal(notModified.fileRoom(10), 0);
  const chunked = writer();
  chunked.head(200, []);
  assert.equal(chunked.fileRoom(10), -1);
  const close = writer("GET", 0);
  close.head(200, []);
  assert.equal(close.fileRoom(10), 10);
  const ended = writer();
  ended.head(200, []);
  ended.end();
  assert.throws(() => ended.fileRoom(1));
});
