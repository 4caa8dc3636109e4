/**
 * `lsbaws ctl [-s PATH] [--json] COMMAND...`: sends one command to a supervisor's control socket
 * (`--control-socket`, `server/process/control_socket.ts`) and prints the answer, as gunicorn's
 * `gunicornc -c COMMAND` does.
 *
 * Contract:
 * - `runControlClient(args, io)` reads `-s`/`--socket PATH` (default `$LSBAWS_CONTROL_SOCKET`, else
 *   `lsbaws.ctl` in the current directory), `-j`/`--json` and `-h`/`--help`; the other words form
 *   the command. It connects, sends the command line, reads the one-line JSON answer and prints
 *   its data: `show workers` as a table, anything else as indented JSON (with `--json`, always
 *   the JSON of the data). An error answer is printed on stderr.
 * - Exit codes: 0 for an `ok` answer, 1 for an error answer (an unknown command, a pid that is
 *   not a worker), 2 for bad arguments (no command, an unknown option), 3 when the socket cannot
 *   be reached or answers nothing.
 */
import { COMMANDS } from "./control_socket.ts";

/** Where the client writes, and the environment it reads. */
export interface ControlClientIo {
  /** Standard output. */
  readonly stdout: { write(text: string): void };
  /** Standard error. */
  readonly stderr: { write(text: string): void };
  /** Environment variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Usage text of `lsbaws ctl`. */
export function controlUsage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "usage: lsbaws ctl [-s PATH] [--json] COMMAND...",
    "",
    "Sends COMMAND to a supervisor started with --control-socket PATH and prints the answer.",
    "  -s, --socket PATH   the control socket (default: $LSBAWS_CONTROL_SOCKET, else lsbaws.ctl)",
    "  -j, --json          print the answer's data as JSON",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([c, d]) => `  ${c.padEnd(width)}  ${d}`),
  ].join("\n");
}

/** Renders `show workers` data as a table. */
function workersTable(data: { workers: Record<string, unknown>[]; count: number }): string {
  const cols = ["id", "pid", "generation", "ready", "retiring", "age", "lastBeat"];
  const rows = data.workers.map((w) => cols.map((c) => String(w[c] ?? "-")));
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(cols), ...rows.map(line), `${data.count} worker(s)`].join("\n");
}

/** Runs `lsbaws ctl`; see the module comment. Resolves to the exit code. */
export async function runControlClient(
  args: readonly string[],
  io: ControlClientIo,
): Promise<number> {
  let path = io.env.LSBAWS_CONTROL_SOCKET || "lsbaws.ctl";
  let json = false;
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-h" || a === "--help") {
      io.stdout.write(controlUsage() + "\n");
      return 0;
    } else if (a === "-j" || a === "--json") json = true;
    else if (a === "-s" || a === "--socket") {
      if (i + 1 >= args.length) return usageError(io, `option '${a}' needs a value`);
      path = args[++i];
    } else if (a.startsWith("--socket=")) path = a.slice("--socket=".length);
    else if (a.startsWith("-") && words.length === 0) {
      return usageError(io, `unknown option '${a}'`);
    } else words.push(a);
  }
  if (words.length === 0) return usageError(io, "no command given");
  let text: string;
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    try {
      await conn.write(new TextEncoder().encode(words.join(" ") + "\n"));
      text = await new Response(conn.readable).text();
    } finally {
      try {
        conn.close();
      } catch {
        // closed by reading to the end
      }
    }
  } catch (err) {
    io.stderr.write(
      `lsbaws ctl: cannot reach the control socket ${path}: ${(err as Error).message}\n`,
    );
    return 3;
  }
  let reply: { ok: boolean; data?: unknown; error?: string };
  try {
    reply = JSON.parse(text);
  } catch {
    io.stderr.write(`lsbaws ctl: no answer from ${path}\n`);
    return 3;
  }
  if (!reply.ok) {
    io.stderr.write(`lsbaws ctl: ${reply.error}\n`);
    return 1;
  }
  const data = reply.data as Record<string, unknown>;
  const isWorkers = words.join(" ").toLowerCase() === "show workers";
  io.stdout.write(
    (!json && isWorkers
      ? workersTable(data as { workers: Record<string, unknown>[]; count: number })
      : JSON.stringify(data, null, 2)) + "\n",
  );
  return 0;
}

function usageError(io: ControlClientIo, message: string): number {
  io.stderr.write(`lsbaws ctl: ${message}\n${controlUsage()}\n`);
  return 2;
}
