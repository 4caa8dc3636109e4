/**
 * The servers the benchmark compares, as data: one entry per server, in the order rounds visit
 * them, and the command line that starts each one with a given app.
 *
 * Contract:
 * - `SERVER_DEFS` is the single list of servers; `ServerId`, `ALL_SERVERS` and `SERVER_LABELS`
 *   are derived from it, so adding a server is adding one entry.
 * - An lsbaws entry names its app flavour (`gateway` or `fetch`) and may carry extra CLI
 *   arguments (`args`), placed before the app spec; e.g. a second I/O backend would be
 *   `{ id: "lsbaws-libc-gateway", label: "lsbaws libc gateway", kind: "lsbaws",
 *   app: "gateway", args: ["--io", "libc"] }`.
 * - Entries of kind `lsbaws` are the ones judged against the targets; `Deno.serve` (`BASELINE`)
 *   is the server every ratio is computed against.
 * - `serverCommand` is pure: it builds the argv, it starts nothing.
 */

/** One server of the comparison. */
export interface ServerDef {
  /** Stable id (command line, JSON results). */
  id: string;
  /** Display name in tables. */
  label: string;
  /** lsbaws (judged against the targets), the `Deno.serve` baseline, or `node:http`. */
  kind: "lsbaws" | "deno-serve" | "node-http";
  /** For lsbaws: which flavour of the bench app it serves (`bench/apps/<app>_<flavour>.ts`). */
  app?: "gateway" | "fetch";
  /** For lsbaws: extra CLI arguments, placed before the app spec. */
  args?: readonly string[];
}

/** Every server, in round order. */
export const SERVER_DEFS = [
  { id: "lsbaws-gateway", label: "lsbaws gateway", kind: "lsbaws", app: "gateway", args: [] },
  { id: "lsbaws-fetch", label: "lsbaws fetch", kind: "lsbaws", app: "fetch", args: [] },
  { id: "deno-serve", label: "Deno.serve", kind: "deno-serve" },
  { id: "node-http", label: "node:http", kind: "node-http" },
] as const satisfies readonly ServerDef[];

/** Server identifiers, in the order rounds visit them. */
export type ServerId = (typeof SERVER_DEFS)[number]["id"];

/** The server every ratio is computed against. */
export const BASELINE: ServerId = "deno-serve";

/** Every server id, in round order. */
export const ALL_SERVERS: ServerId[] = SERVER_DEFS.map((d) => d.id);

/** Display names of the servers. */
export const SERVER_LABELS: Record<ServerId, string> = Object.fromEntries(
  SERVER_DEFS.map((d) => [d.id, d.label]),
) as Record<ServerId, string>;

/** The entry of `id`; throws for an unknown id. */
export function serverDef(id: string): ServerDef {
  const def = (SERVER_DEFS as readonly ServerDef[]).find((d) => d.id === id);
  if (!def) throw new Error(`unknown server ${id}`);
  return def;
}

/** Whether `id` is an lsbaws server (judged against the targets). */
export function isLsbaws(id: string): boolean {
  return (SERVER_DEFS as readonly ServerDef[]).some((d) => d.id === id && d.kind === "lsbaws");
}

/** Which app a server process runs. */
export type AppKind = "hello" | "sink";

/**
 * The command line that starts `def` with `app`, using the Deno binary `deno`;
 * `idleKeepAliveMs` raises the keep-alive idle timeout where the server has one.
 */
export function serverCommand(
  def: ServerDef,
  app: AppKind,
  idleKeepAliveMs: number | null,
  deno: string,
): string[] {
  switch (def.kind) {
    case "lsbaws": {
      const flavour = def.app ?? "fetch";
      return [
        deno,
        "run",
        "--unstable-net",
        "-A",
        "main.ts",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        ...(idleKeepAliveMs ? ["--keep-alive-timeout-ms", String(idleKeepAliveMs)] : []),
        ...(def.args ?? []),
        flavour === "gateway" ? `bench/apps/${app}_gateway.ts:app` : `bench/apps/${app}_fetch.ts`,
      ];
    }
    case "deno-serve":
      // Deno.serve has no keep-alive idle timeout to raise.
      return [deno, "run", "-A", "bench/apps/deno_serve.ts", "--app", app];
    case "node-http":
      return [
        "node",
        "bench/apps/node_http.mjs",
        "--app",
        app,
        ...(idleKeepAliveMs ? ["--keep-alive-timeout-ms", String(idleKeepAliveMs)] : []),
      ];
  }
}
