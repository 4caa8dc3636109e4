/**
 * `server/io_errors.ts`: `logPeerGone` describes the error (reads its stack) only when the logger
 * writes debug lines, so a client that resets its connections costs no stack formatting at the
 * usual log levels.
 */
import assert from "node:assert/strict";
import { isPeerGone, logPeerGone } from "../../server/io_errors.ts";
import type { LogLevel } from "../../server/log.ts";

/** A reset whose `stack` reads are counted. */
function countedReset(): { err: Error; reads: () => number } {
  const err = new Deno.errors.ConnectionReset("connection reset by peer");
  const stack = err.stack;
  let reads = 0;
  Object.defineProperty(err, "stack", {
    get() {
      reads++;
      return stack;
    },
  });
  return { err, reads: () => reads };
}

function logger(min: LogLevel) {
  const rank = ["debug", "info", "warning", "error", "critical"];
  const lines: string[] = [];
  return {
    lines,
    enabled: (level: LogLevel) => rank.indexOf(level) >= rank.indexOf(min),
    log(level: LogLevel, message: string) {
      if (this.enabled(level)) lines.push(`${level} ${message}`);
    },
  };
}

Deno.test("logPeerGone does not read the error's stack unless debug lines are written", () => {
  const { err, reads } = countedReset();
  assert.ok(isPeerGone(err));
  const info = logger("info");
  logPeerGone(info, "connection ended", err);
  assert.equal(reads(), 0, "the stack was formatted for a line nobody writes");
  assert.deepEqual(info.lines, []);
});

Deno.test("logPeerGone writes what happened and the error at debug level", () => {
  const { err, reads } = countedReset();
  const debug = logger("debug");
  logPeerGone(debug, "client went away", err);
  assert.equal(debug.lines.length, 1);
  assert.match(
    debug.lines[0],
    /^debug client went away: ConnectionReset: connection reset by peer/,
  );
  assert.ok(reads() >= 1);
});
