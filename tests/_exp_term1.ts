import { startLsbaws } from "./_support/proc.ts";
import { runLoad } from "./_support/load.ts";
const mode = (Deno.args[0] ?? "keepalive") as "keepalive" | "close";
const p = await startLsbaws(["-p", "0", "tests/fixtures/apps/ops.ts:app"]);
try {
  
  const base = `http://127.0.0.1:${p.port()}`;
  const slow = runLoad({ url: `${base}/slow?ms=1500`, total: 8, concurrency: 8, mode });
  const load = runLoad({ url: `${base}/`, total: 2000, concurrency: 12, mode });
  await load.progress(300);
  p.signal("SIGTERM");
  const r = await load.done;
  const s = await slow.done;
  console.log(mode, "load ok", r.ok, "failed", r.failed, "refused", r.refused, r.errors.slice(0, 3));
  console.log("slow ok", s.ok, "failed", s.failed, s.errors.slice(0, 3));
  console.log("exit", (await p.status).code);
} finally {
  await p.stop();
}
