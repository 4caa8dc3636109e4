/**
 * Test support for the shared-listener tests: two rolling restarts (HUP) during a bounded load
 * from each client kind at once, against `lsbaws -w 2 --io libc` (the supervisor owns the
 * listening socket). Used in-process (shared_listeners_test.ts) and, under a fresh network
 * namespace, by netns_hup_run.ts.
 *
 * Contract: `twoHupsUnderLoad(total)` starts the server on an app whose answer is its version,
 * runs `total` requests from each of the persistent, fetch and close clients (paced, so the load
 * outlasts both restarts), rewrites the app to v2 and sends HUP once 200 requests of each kind
 * finished, waits until the new generation serves and the old one exited, then does the same for
 * v3. It resolves with each kind's tally and the versions it saw, plus the
 * `net.ipv4.tcp_migrate_req` value it ran under, and always stops the server.
 */
import { type LoadResult, runLoad } from "../../_support/load.ts";
import { startLsbaws } from "../../_support/proc.ts";

/** The client kinds the README lists. */
export const CLIENT_KINDS = ["persistent", "fetch", "close"] as const;

/** What one client kind saw. */
export interface KindTally {
  /** Answered requests. */
  ok: number;
  /** Accepted but unanswered (reset, timeout). */
  failed: number;
  /** Refused connects. */
  refused: number;
  /** Up to 20 error messages. */
  errors: string[];
  /** Answers per app version (`v1`, `v2`, `v3`). */
  versions: Record<string, number>;
}

/** The outcome of `twoHupsUnderLoad`. */
export interface HupRun {
  /** `net.ipv4.tcp_migrate_req` during the run ("unavailable" where it cannot be read). */
  migrateReq: string;
  /** Per client kind. */
  kinds: Record<string, KindTally>;
}

/** The current `net.ipv4.tcp_migrate_req` value. */
export function readMigrateReq(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_migrate_req").trim();
  } catch {
    return "unavailable";
  }
}

function tally(r: LoadResult): KindTally {
  const versions: Record<string, number> = {};
  for (const [body, n] of r.bodies) {
    const v = body.split(" ")[0];
    versions[v] = (versions[v] ?? 0) + n;
  }
  return { ok: r.ok, failed: r.failed, refused: r.refused, errors: r.errors, versions };
}

/** Runs the scenario; see the module comment. */
export async function twoHupsUnderLoad(total: number): Promise<HupRun> {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-hup2-" });
  const path = `${dir}/app.ts`;
  const write = (v: string) =>
    Deno.writeTextFileSync(
      path,
      `export default {
  async fetch() {
    await new Promise((r) => setTimeout(r, 4));
    return new Response("${v} " + Deno.pid);
  },
};\n`,
    );
  write("v1");
  const p = await startLsbaws(["-w", "2", "-p", "0", "--io", "libc", path]);
  try {
    const ready = () => p.err.filter((l) => /worker \d+ \(pid \d+\) is ready/.test(l)).length;
    const stopped = () => p.err.filter((l) => /worker pid \d+ stopped/.test(l)).length;
    await p.waitFor(() => ready() === 2, "2 workers");
    const url = `http://127.0.0.1:${p.port()}/`;
    const loads = CLIENT_KINDS.map((mode) => runLoad({ url, total, concurrency: 4, mode }));
    await Promise.all(loads.map((l) => l.progress(200)));
    for (const [i, v] of ["v2", "v3"].entries()) {
      write(v);
      p.signal("SIGHUP");
      const gen = i + 2;
      await p.waitFor(
        () => ready() >= 2 * gen && stopped() >= 2 * (gen - 1),
        `generation ${gen} serving, generation ${gen - 1} gone`,
        30000,
      );
    }
    const results = await Promise.all(loads.map((l) => l.done));
    const kinds: Record<string, KindTally> = {};
    CLIENT_KINDS.forEach((k, i) => (kinds[k] = tally(results[i])));
    return { migrateReq: readMigrateReq(), kinds };
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
}
