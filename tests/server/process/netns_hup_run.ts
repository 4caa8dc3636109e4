/**
 * Runs `twoHupsUnderLoad` (hup_load.ts) inside a fresh network namespace with
 * `net.ipv4.tcp_migrate_req=0`, so the setting of the machine (shared with other processes) is
 * never touched. Started by shared_listeners_test.ts as `unshare --net -- deno run -A
 * --unstable-net tests/server/process/netns_hup_run.ts TOTAL`.
 *
 * Contract: brings the namespace's loopback up, writes 0 to tcp_migrate_req (a new namespace's
 * default anyway) and checks it reads back 0, runs the scenario with TOTAL requests per client
 * kind, and prints the `HupRun` as one JSON line on stdout. Exits 1 (with the reason on stderr)
 * when the namespace cannot be prepared.
 */
import { readMigrateReq, twoHupsUnderLoad } from "./hup_load.ts";

const total = Number(Deno.args[0] ?? "3000");
const up = await new Deno.Command("ip", { args: ["link", "set", "lo", "up"] }).output();
if (!up.success) {
  Deno.stderr.writeSync(new TextEncoder().encode(`netns_hup_run: ip link set lo up failed\n`));
  Deno.exit(1);
}
Deno.writeTextFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "0\n");
if (readMigrateReq() !== "0") {
  Deno.stderr.writeSync(new TextEncoder().encode(`netns_hup_run: tcp_migrate_req is not 0\n`));
  Deno.exit(1);
}
const run = await twoHupsUnderLoad(total);
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(run) + "\n"));
