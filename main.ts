/**
 * The lsbaws command line: `lsbaws [options] path/to/app.ts[:export]`.
 *
 * Contract:
 * - `main(args, deps)` parses arguments (`server/config.ts`), loads the app (`gateway/loader.ts`),
 *   adapts it to the engine (`gateway/handler.ts`), starts `serve` and installs SIGINT/SIGTERM for
 *   a graceful stop. It resolves to the process exit code; every dependency that touches the
 *   process (env, signals, output) is injected so tests can drive it.
 * - Exit codes: 0 after a clean stop, `EXIT_USAGE` (2) for bad flags, `EXIT_BOOT_ERROR` (3) when
 *   listening fails, `EXIT_APP_LOAD_ERROR` (4) when the app cannot be loaded.
 * - This is the only file that reads `Deno.args` or calls `Deno.exit`, and only when run as the
 *   main module.
 */
import {
  type Config,
  ConfigError,
  EXIT_APP_LOAD_ERROR,
  EXIT_BOOT_ERROR,
  EXIT_USAGE,
  helpText,
  parseCli,
} from "./server/config.ts";
import { createLogger, type Logger, type LogSink, stderrSink, stdoutSink } from "./server/log.ts";
import { formatAddr, serve, type Server } from "./server/serve.ts";
import { AppLoadError } from "./gateway/errors.ts";
import { loadApp } from "./gateway/loader.ts";
import { createHandler } from "./gateway/handler.ts";
import { runSupervisor, WORKER_ENV } from "./server/supervisor.ts";

/** The lsbaws version. */
export const VERSION = "0.1.0";

/** Process-level dependencies of `main`, injectable for tests. */
export interface MainDeps {
  /** Environment variables. */
  env: Record<string, string>;
  /** Current working directory (app specs resolve against it). */
  cwd: string;
  /** Where `--help`, `--version` and the listening banner go. */
  stdout: LogSink;
  /** Where errors go. */
  stderr: LogSink;
  /** Registers a signal handler; returns a function that removes it. */
  onSignal(signal: Deno.Signal, handler: () => void): () => void;
  /** Called with the running server once it listens (tests use it to learn the port). */
  onListen?(server: Server): void;
}

/** The real process dependencies. */
export function processDeps(): MainDeps {
  return {
    env: Deno.env.toObject(),
    cwd: Deno.cwd(),
    stdout: stdoutSink(),
    stderr: stderrSink(),
    onSignal(signal, handler) {
      try {
        Deno.addSignalListener(signal, handler);
      } catch {
        return () => {};
      }
      return () => Deno.removeSignalListener(signal, handler);
    },
  };
}

/** Runs the CLI; resolves to the exit code. */
export async function main(args: readonly string[], deps: MainDeps): Promise<number> {
  let parsed;
  try {
    parsed = parseCli(args, deps.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      deps.stderr.write(`lsbaws: error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (parsed.kind === "help") {
    deps.stdout.write(helpText(VERSION) + "\n");
    return 0;
  }
  if (parsed.kind === "version") {
    deps.stdout.write(`lsbaws ${VERSION} (deno ${Deno.version.deno})\n`);
    return 0;
  }
  const config = parsed.config;
  const logger = createLogger({
    level: config.logLevel,
    accessLog: config.accessLog,
    accessLogFormat: config.accessLogFormat,
    errorSink: deps.stderr,
  });
  try {
    const isWorker = deps.env[WORKER_ENV] !== undefined;
    if (config.workers > 1 && !isWorker) {
      return await runSupervisor(args, config, { logger, deps });
    }
    return await runServer(parsed.appSpec, config, logger, deps, isWorker);
  } finally {
    logger.close();
  }
}

async function runServer(
  spec: string,
  config: Config,
  logger: Logger,
  deps: MainDeps,
  isWorker: boolean,
): Promise<number> {
  let handler;
  try {
    const loaded = await loadApp(spec, { cwd: deps.cwd });
    handler = createHandler(loaded, config, logger);
  } catch (err) {
    if (err instanceof AppLoadError) {
      deps.stderr.write(`lsbaws: cannot load app: ${err.message}\n`);
      return EXIT_APP_LOAD_ERROR;
    }
    throw err;
  }
  let server: Server;
  try {
    server = await serve(handler, config, { logger, reusePort: isWorker });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    deps.stderr.write(`lsbaws: cannot listen: ${msg}\n`);
    return EXIT_BOOT_ERROR;
  }
  const scheme = config.certfile ? "https" : "http";
  for (const addr of server.addrs) {
    deps.stdout.write(`lsbaws ${VERSION} listening on ${formatAddr(addr, scheme)}\n`);
  }
  deps.onListen?.(server);
  let signals = 0;
  const stop = (name: string) => () => {
    signals++;
    if (signals === 1) {
      logger.log("info", `${name}: shutting down gracefully (grace ${config.shutdownGraceMs} ms)`);
      server.shutdown(config.shutdownGraceMs);
    } else {
      logger.log("warning", `${name} again: closing all connections now`);
      server.shutdown(0);
    }
  };
  const removers = [
    deps.onSignal("SIGINT", stop("SIGINT")),
    deps.onSignal("SIGTERM", stop("SIGTERM")),
  ];
  await server.finished;
  for (const r of removers) r();
  logger.log("info", "stopped");
  return 0;
}

if (import.meta.main) {
  const code = await main(Deno.args, processDeps());
  Deno.exit(code);
}
