import { startLsbaws, delay } from "./_support/proc.ts";
import { runLoad } from "./_support/load.ts";
const dir = await Deno.makeTempDir();
const app = `${dir}/app.ts`;
const write = (v: string) => Deno.writeTextFileSync(app, `export default { fetch() { return new Response("${v} " + Deno.pid); } };\n`);
write("v1");
const mode = (Deno.args[0] ?? "keepalive") as "keepalive" | "close";
const p = await startLsbaws(["-w", "2", "-p", "0", app]);
try {
  await p.waitFor(() => p.err.some((l) => /worker 2 .* ready/.test(l)), "w2");
  const load = runLoad({ url: `http://127.0.0.1:${p.port()}/`, total: 3000, concurrency: 12, mode });
  const t0 = Date.now();
  await load.progress(300);
  write("v2");
  p.signal("SIGHUP");
  await load.progress(1500);
  p.signal("SIGHUP");
  const r = await load.done;
  console.log(mode, "ms", Date.now() - t0, "ok", r.ok, "failed", r.failed, "refused", r.refused, r.errors.slice(0, 5));
  const versions = new Map<string, number>();
  for (const [b, n] of r.bodies) versions.set(b.split(" ")[0], (versions.get(b.split(" ")[0]) ?? 0) + n);
  console.log(versions, r.bodies.size);
} finally {
  const s = await p.stop();
  console.log("exit", s.code, p.err.filter((l) => !/INFO/.test(l)).slice(0, 10));
}
