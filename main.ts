/**
 * The lsbaws command line: `lsbaws [options] path/to/app.ts[:export]`.
 *
 * Contract:
 * - `main(args, deps)` parses arguments, the environment and the `--config` file
 *   (`server/config.ts`; the file is read through `deps`, relative to `deps.cwd`), loads the app
 *   (`gateway/loader.ts`), adapts it to the engine (`gateway/handler.ts`), starts `serve` and
 *   handles signals. It resolves to the process exit code; every dependency that touches the
 *   process (env, signals, output, the config file) is injected so tests can drive it.
 *   Supervised workers get the same arguments and environment, so they read the same file.
 * - `lsbaws ctl ...` is not a server: it sends one command to a supervisor's `--control-socket`
 *   (`server/process/control_client.ts`) and returns its exit code.
 * - Three server roles:
 *   - single process (`-w 1`, the default): serves in this process;
 *   - supervisor (`-w 2` or more, `--max-requests`, `--reload`, `--user`/`--group`,
 *     `--capture-output` or `--control-socket`): `server/process/supervisor.ts`
 *     starts workers; with `--reload` (`server/process/reload.ts`) it also replaces them when the
 *     app's files change (one worker unless `-w` says more, like uvicorn's reloader process);
 *   - worker (`LSBAWS_WORKER` set by the supervisor): serves the listening sockets it inherited
 *     from the supervisor (or binds with SO_REUSEPORT when the workers bind their own, see
 *     `server/process/handover.ts`), reports readiness and heartbeats (`server/process/worker.ts`, `server/process/heartbeat.ts`) and stops when the supervisor's
 *     pipe closes. With `--initgroups` it is started as root and first switches to the workers'
 *     user, group and supplementary groups (`LSBAWS_WORKER_IDENTITY`, unset before the app
 *     loads; `server/process/privileges.ts`); a failure is exit 3.
 * - systemd socket activation (`LISTEN_PID`/`LISTEN_FDS`, `server/libc/inherit.ts`): the
 *   inherited sockets are served instead of binding, single-process or with `-w N` (the supervisor
 *   passes them on to its workers); `--bind`, `--host` and `--port` are ignored (one info line),
 *   as gunicorn does. The variables are unset (`deps.unsetEnv`) so children never see them.
 * - Signals while serving: TERM/INT drain (stop accepting, finish in-flight requests within
 *   `--shutdown-grace-ms`, exit 0); a second TERM/INT or QUIT closes everything now. HUP, TTIN
 *   and TTOU need the supervisor; a single process logs that and carries on. USR2 is ignored
 *   with a warning (no binary upgrade). USR1 is ignored by every role (`deps.ignoreSigusr1`:
 *   Deno would start its inspector on it). In the real process a signal listener stays
 *   subscribed until exit (see `processDeps`).
 * - `--uncaught log` (the default): in a serving process (single or worker), an error no code
 *   catches (a throw in a timer, a rejected promise nobody awaits) is logged at ERROR with its
 *   stack and the process keeps serving (`deps.catchUncaught`); `--uncaught exit`, and the
 *   supervisor always, keep Deno's default, which ends the process.
 * - `--print-config` prints the effective settings and their sources and exits 0 before any app
 *   is loaded, static directory opened or address bound.
 * - `--chdir DIR` changes the process's directory before anything else is opened (a supervisor's
 *   workers start there); a directory that cannot be entered is a boot error.
 * - `--umask MASK` sets the process's file mode creation mask right after `--chdir`, before any
 *   file or unix socket is created; workers inherit it from their supervisor.
 * - `--check-config` loads the app and tries the TLS pair in this process, binds nothing, starts
 *   no worker and claims no pid file: 0 and one line on stdout, or the start-up exit code.
 * - Exit codes: 0 after a clean stop, `EXIT_USAGE` (2) for bad flags, values or config file,
 *   `EXIT_BOOT_ERROR` (3) when listening fails (socket activation that cannot be honoured
 *   included: `--io deno`, or an fd that is not a listening stream socket), a `--static`
 *   directory is missing, the `--chdir` directory cannot be entered, the `--access-log` or
 *   `--error-log` file cannot be opened, the `--pid` file names a server still running,
 *   `--user`/`--group` asks a process that is not root for another identity, the `--keyfile`
 *   cannot be decrypted (`--keyfile-password`) or a worker cannot take its identity
 *   (`--initgroups`),
 *   `EXIT_APP_LOAD_ERROR` (4) when the app cannot be loaded. A `--user`/`--group` naming nobody
 *   is `EXIT_USAGE`.
 * - A supervisor and its workers take the titles `lsbaws: master [NAME]` / `lsbaws: worker [NAME]`
 *   (`--name`, default the app spec; `--no-proc-title` keeps the command line).
 * - `--capture-output` with `--error-log FILE` runs a supervisor too (one worker included), which
 *   writes what its workers print to stdout into the error log (alone, it warns and does nothing).
 * - `--user`/`--group` always run a supervisor (even with one worker): it binds, keeps its own
 *   identity and starts the workers under the new one (`server/process/identity.ts`).
 * - The static responder, the supervisor, the worker link, the heartbeat and the pid file are
 *   imported only in the roles and with the settings that use them: a single-process server
 *   without `--static` does not load them (~0.7 MiB less anonymous memory at boot).
 * - `--pid FILE`: the process that takes the signals (the supervisor, or the single process)
 *   claims the file before it binds and gives it up when `main` returns
 *   (`server/process/pidfile.ts`).
 * - This is the only file that reads `Deno.args` or calls `Deno.exit`, and only when run as the
 *   main module.
 */
import {
  type CliResult,
  type Config,
  ConfigError,
  EXIT_APP_LOAD_ERROR,
  EXIT_BOOT_ERROR,
  EXIT_USAGE,
  helpText,
  parseCli,
  printConfigText,
} from "./server/config.ts";
import {
  createLogger,
  fileSink,
  type Logger,
  type LogSink,
  stderrSink,
  stdoutSink,
} from "./server/log.ts";
import { fdBindsOf, formatAddr, parseBind } from "./server/address.ts";
import { serve, type Server } from "./server/serve.ts";
import { AppLoadError, loadErrorLocation } from "./gateway/errors.ts";
import { describeError } from "./server/http/errors.ts";
import { parseAppSpec } from "./gateway/loader.ts";
import { callListenHook, disposeApp, loadServedApp, type ServedApp } from "./gateway/lifecycle.ts";
import { readTlsPair, TlsKeyError } from "./server/tls_files.ts";
import {
  COMMAND_QUIESCE,
  heartbeatPeriodMs,
  WORKER_ENV,
  WORKER_IDENTITY_ENV,
} from "./server/process/control.ts";
import type { Heartbeat } from "./server/process/heartbeat.ts";
import { mergeEnv, parseEnvAssignment, parseEnvFile } from "./server/env_file.ts";
import { parseTrustList } from "./server/proxy.ts";
import type { StatsdClient } from "./server/statsd.ts";
import type { SyslogWriter } from "./server/syslog.ts";
import {
  ActivationError,
  type InheritedSocket,
  type SharedListeners,
  takeListenFds,
} from "./server/libc/inherit.ts";
import type { WorkerLink } from "./server/process/worker.ts";
import type { Identity } from "./server/process/identity.ts";
import type { StaticMount } from "./server/static/mod.ts";
import type { Notifier } from "./server/process/notify.ts";
import type { ControlSocket } from "./server/process/control_socket.ts";
import type { SupervisorView } from "./server/process/supervisor_options.ts";
import { setWebSocketDefaults } from "./server/websocket_options.ts";
import {
  ignoreSigusr1,
  LIBC_SIGNAL_IO,
  PROCESS_SIGNAL_IO,
} from "./server/process/inspector_signal.ts";

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
  /**
   * Reads a text file (the `--config` and `--env-file` files, paths resolved against `cwd`); default
   * `Deno.readTextFileSync`.
   */
  readTextFile?(path: string): string;
  /** Removes a variable from the process environment (socket activation); default: none. */
  unsetEnv?(name: string): void;
  /** Sets a variable in the process environment (`--env-file`); default: none. */
  setEnv?(name: string, value: string): void;
  /**
   * Makes the process ignore SIGUSR1, which would otherwise start Deno's inspector
   * (`server/process/inspector_signal.ts`), through the libc backend's bindings when `libc` (the
   * process serves with that backend); null, or why it could not. Default: not called.
   */
  ignoreSigusr1?(libc: boolean): Promise<string | null>;
  /**
   * Catches what no code catches (the global `error` and `unhandledrejection` events) and reports
   * it to `report` instead of ending the process; returns the function that stops catching.
   * Default: not called (Deno's default: such an error ends the process).
   */
  catchUncaught?(report: (what: string, err: unknown) => void): () => void;
}

/** `path` resolved against `cwd` (absolute paths, including `C:\` ones, are kept). */
function resolvePath(cwd: string, path: string): string {
  if (path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path)) return path;
  return cwd.endsWith("/") ? cwd + path : `${cwd}/${path}`;
}

/** The config file reader `parseCli` gets: relative paths resolve against `deps.cwd`. */
function configReader(deps: MainDeps): (path: string) => string {
  const read = deps.readTextFile ?? Deno.readTextFileSync;
  return (path) => {
    const abs = resolvePath(deps.cwd, path);
    try {
      return read(abs);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new ConfigError(`config file ${path} not found (looked for ${abs})`);
      }
      throw err;
    }
  };
}

/** The real process dependencies. */
export function processDeps(): MainDeps {
  return {
    env: Deno.env.toObject(),
    cwd: Deno.cwd(),
    stdout: stdoutSink(),
    stderr: stderrSink(),
    onSignal(signal, handler) {
      let active = true;
      const listener = () => {
        if (active) handler();
      };
      try {
        Deno.addSignalListener(signal, listener);
      } catch {
        return () => {};
      }
      // The listener stays subscribed until the process exits; "removing" it only silences it.
      // Unsubscribed, the signal would take its default action again, and a TERM that arrives
      // between the end of `main` and `Deno.exit` (a retired worker, say) would kill the
      // process instead of letting it exit 0.
      return () => {
        active = false;
      };
    },
    unsetEnv: (name) => Deno.env.delete(name),
    setEnv: (name, value) => Deno.env.set(name, value),
    ignoreSigusr1: (libc) => ignoreSigusr1(libc ? LIBC_SIGNAL_IO : PROCESS_SIGNAL_IO),
    catchUncaught(report) {
      const onError = (e: ErrorEvent) => {
        e.preventDefault();
        report("uncaught exception", e.error ?? e.message);
      };
      const onRejection = (e: PromiseRejectionEvent) => {
        e.preventDefault();
        report("unhandled promise rejection", e.reason);
      };
      globalThis.addEventListener("error", onError);
      globalThis.addEventListener("unhandledrejection", onRejection);
      return () => {
        globalThis.removeEventListener("error", onError);
        globalThis.removeEventListener("unhandledrejection", onRejection);
      };
    },
  };
}

/**
 * The checks the settings pass at start beyond their own parsing (trust lists, bind specs and,
 * when the static responder is loaded, `--static` mounts); throws with the reason. Returns the
 * static mounts.
 */
function checkSettings(
  config: Config,
  staticFiles: typeof import("./server/static/mod.ts") | null,
): StaticMount[] {
  parseTrustList(config.forwardedAllowIps);
  parseTrustList(config.proxyAllowIps, "--proxy-allow-ips");
  if (fdBindsOf(config.bind) === null) { for (const b of config.bind) parseBind(b); }
  return staticFiles?.parseStaticMounts(config.staticMounts) ?? [];
}

/**
 * The settings read again for a HUP: the same command line against the environment the server
 * started with (`--env-file` included, not read again) and the `--config` file as it is now,
 * checked as at start. Throws with the reason.
 */
function rereadSettings(
  args: readonly string[],
  deps: MainDeps,
  staticFiles: typeof import("./server/static/mod.ts") | null,
): Config {
  const parsed = parseCli(args, deps.env, configReader(deps));
  if (!("config" in parsed)) throw new Error("the command line no longer names an app to run");
  checkSettings(parsed.config, staticFiles);
  return parsed.config;
}

/**
 * Starts a sender a setting asks for (`--statsd-host`, `--syslog`; `start` imports its module,
 * so a server without them does not load it): a value that cannot work (`ConfigError`) is the
 * usage exit code, a destination that cannot be used the boot error one.
 */
async function startSender<T>(
  deps: MainDeps,
  what: string,
  start: () => Promise<T>,
): Promise<T | number> {
  try {
    return await start();
  } catch (err) {
    const usage = err instanceof ConfigError;
    deps.stderr.write(`lsbaws: ${usage ? "error" : what}: ${(err as Error).message}\n`);
    return usage ? EXIT_USAGE : EXIT_BOOT_ERROR;
  }
}

/** `--initgroups` in a worker: switches identity (`server/process/privileges.ts`); 0 or exit 3. */
async function takeWorkerIdentity(deps: MainDeps): Promise<number> {
  const value = deps.env[WORKER_IDENTITY_ENV];
  deps.unsetEnv?.(WORKER_IDENTITY_ENV);
  const { parseWorkerIdentity, takeIdentity } = await import("./server/process/privileges.ts");
  const id = parseWorkerIdentity(value);
  try {
    if (id === null) throw new Error(`malformed ${WORKER_IDENTITY_ENV}: '${value}'`);
    takeIdentity(id);
    return 0;
  } catch (err) {
    deps.stderr.write(`lsbaws: cannot switch the worker's identity: ${(err as Error).message}\n`);
    return EXIT_BOOT_ERROR;
  }
}

/** `lsbaws: cannot listen: ...` (or a key that cannot be used) on stderr; the boot error code. */
function cannotListen(deps: MainDeps, err: unknown): number {
  const what = err instanceof TlsKeyError ? "cannot use --keyfile" : "cannot listen";
  deps.stderr.write(`lsbaws: ${what}: ${err instanceof Error ? err.message : err}\n`);
  return EXIT_BOOT_ERROR;
}

/**
 * `--env-file` and `--env`: reads the file (relative to the working directory, after `--chdir`)
 * and adds its variables to the process environment where they are not set already, then sets
 * every `--env KEY=VALUE` (those win over both, as gunicorn's `-e` does), and parses the command
 * line again against the merged environment, so `PORT`, `WEB_CONCURRENCY` and the other
 * variables the settings read take effect. Returns the new parse and deps, or an exit code.
 */
function loadEnvFile(
  args: readonly string[],
  config: Config,
  deps: MainDeps,
): [Extract<CliResult, { config: Config }>, MainDeps] | number {
  const path = resolvePath(deps.cwd, config.envFile);
  let env: Record<string, string> = { ...deps.env };
  try {
    if (config.envFile !== "") {
      const text = (deps.readTextFile ?? Deno.readTextFileSync)(path);
      env = mergeEnv(deps.env, parseEnvFile(text, config.envFile));
    }
    for (const [name, value] of config.env.map(parseEnvAssignment)) env[name] = value;
  } catch (err) {
    const why = err instanceof ConfigError
      ? err.message
      : `cannot read --env-file ${path}: ${(err as Error).message}`;
    deps.stderr.write(`lsbaws: error: ${why}\n`);
    return EXIT_USAGE;
  }
  for (const [name, value] of Object.entries(env)) {
    if (deps.env[name] !== value) deps.setEnv?.(name, value);
  }
  const next = { ...deps, env };
  try {
    const reparsed = parseCli(args, env, configReader(next));
    // The same arguments parsed before: neither --help nor --version.
    if (!("config" in reparsed)) return EXIT_USAGE;
    return [reparsed, next];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const from = config.envFile !== "" ? `--env-file ${config.envFile}` : "--env";
    deps.stderr.write(`lsbaws: error: ${err.message} (with ${from})\n`);
    return EXIT_USAGE;
  }
}

/** Runs the CLI; resolves to the exit code. */
export async function main(args: readonly string[], deps: MainDeps): Promise<number> {
  if (args[0] === "ctl") {
    // `lsbaws ctl ...`: a client of a supervisor's --control-socket, not a server.
    const { runControlClient } = await import("./server/process/control_client.ts");
    return await runControlClient(args.slice(1), deps);
  }
  let parsed;
  try {
    parsed = parseCli(args, deps.env, configReader(deps));
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
  let config = parsed.config;
  const workerId = deps.env[WORKER_ENV];
  if (workerId !== undefined && deps.env[WORKER_IDENTITY_ENV] !== undefined) {
    // --initgroups: started as root, the worker takes the user's groups and identity itself,
    // before it reads the app or a log file, binds, or lets the app see the variable.
    const code = await takeWorkerIdentity(deps);
    if (code !== 0) return code;
  }
  if (config.chdir !== "" && parsed.kind === "run" && workerId === undefined) {
    // gunicorn's --chdir: first of all, so every relative path below (the app, --static, log and
    // pid files, unix sockets) is taken from there. Workers start in it already.
    const dir = resolvePath(deps.cwd, config.chdir);
    try {
      Deno.chdir(dir);
    } catch (err) {
      deps.stderr.write(`lsbaws: cannot change directory to ${dir}: ${(err as Error).message}\n`);
      return EXIT_BOOT_ERROR;
    }
    deps = { ...deps, cwd: Deno.cwd() };
  }
  if (config.umask !== "" && parsed.kind === "run" && workerId === undefined) {
    // gunicorn's --umask: before the pid file, the logs and the unix sockets are created. A
    // worker starts with its supervisor's mask (exec keeps it), and so does the app.
    Deno.umask(parseInt(config.umask, 8));
  }
  // A worker inherits the variables from its supervisor, which read the file (a worker under
  // --user may not be able to: a secrets file is often root's alone) and set the --env values.
  if ((config.envFile !== "" || config.env.length > 0) && workerId === undefined) {
    const loaded = loadEnvFile(args, config, deps);
    if (typeof loaded === "number") return loaded;
    [parsed, deps] = loaded;
    config = parsed.config;
  }
  // The static responder, the supervisor and the worker link are imported only where they are
  // used, so a single-process server does not keep their code in memory.
  const staticFiles = config.staticMounts.length === 0
    ? null
    : await import("./server/static/mod.ts");
  let mounts;
  try {
    mounts = checkSettings(config, staticFiles);
    const patterns = [...config.reloadInclude, ...config.reloadExclude];
    if (patterns.length > 0) {
      // --reload-include/--reload-exclude: the pattern module is loaded only when they are used.
      const { globToRegExp } = await import("./server/glob.ts");
      for (const p of patterns) globToRegExp(p);
    }
  } catch (err) {
    deps.stderr.write(`lsbaws: error: ${err instanceof Error ? err.message : err}\n`);
    return EXIT_USAGE;
  }
  // --user/--group: resolved once, by the process that starts the workers (exit 2 for a name
  // nobody has, 3 when this process may not switch to it).
  let identity: Identity | null = null;
  if ((config.user !== "" || config.group !== "") && workerId === undefined) {
    const id = await import("./server/process/identity.ts");
    try {
      identity = id.resolveIdentity(
        config.user,
        config.group,
        id.readIdentityDb(),
        id.currentIds(),
      );
    } catch (err) {
      if (!(err instanceof id.IdentityError)) throw err;
      deps.stderr.write(`lsbaws: error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    const refusal = parsed.kind === "print-config"
      ? null
      : identity && id.identityRefusal(identity, id.currentIds());
    if (refusal) {
      deps.stderr.write(`lsbaws: error: ${refusal}\n`);
      return EXIT_BOOT_ERROR;
    }
  }
  if (parsed.kind === "print-config") {
    deps.stdout.write(printConfigText(parsed, VERSION) + "\n");
    return 0;
  }
  try {
    // Once here, before any worker starts: a missing directory is a boot error.
    if (mounts.length > 0) staticFiles?.createStaticHandler(mounts);
  } catch (err) {
    deps.stderr.write(`lsbaws: cannot serve static files: ${(err as Error).message}\n`);
    return EXIT_BOOT_ERROR;
  }
  const statsd = config.statsdHost === "" ? null : await startSender(
    deps,
    "cannot send StatsD metrics",
    async () => (await import("./server/statsd.ts")).startStatsdForServer(config),
  );
  if (typeof statsd === "number") return statsd;
  const syslog = !config.syslog ? null : await startSender(
    deps,
    "cannot send to syslog",
    async () => (await import("./server/syslog.ts")).startSyslogForServer(config),
  );
  if (typeof syslog === "number") {
    statsd?.close();
    return syslog;
  }
  const logs = openLogs(config, deps, workerId, identity, statsd?.client, syslog);
  if (typeof logs === "number") {
    statsd?.close();
    syslog?.close();
    return logs;
  }
  const { logger, errorLogFile } = logs;
  // gunicorn's USR2 (re-exec a new master) has no lsbaws equivalent; its default action would
  // end the process at once, so it is ignored, with a warning outside the workers.
  const offUsr2 = deps.onSignal("SIGUSR2", () => {
    if (workerId !== undefined) return;
    logger.log("warning", "SIGUSR2 ignored: there is no binary upgrade; HUP is a rolling restart");
  });
  let releasePidFile: (() => void) | null = null;
  let notifier: Notifier | null = null;
  try {
    if (config.checkConfig) return await checkConfig(parsed.appSpec, config, logger, deps);
    if (config.pidFile !== "" && workerId === undefined) {
      const { claimPidFile, PidFileError } = await import("./server/process/pidfile.ts");
      try {
        releasePidFile = claimPidFile(config.pidFile, Deno.pid);
      } catch (err) {
        if (!(err instanceof PidFileError)) throw err;
        deps.stderr.write(`lsbaws: error: ${err.message}\n`);
        return EXIT_BOOT_ERROR;
      }
    }
    // The libc backend serves unless --io deno or TLS says otherwise (`server/serve.ts`).
    const usr1 = await deps.ignoreSigusr1?.(config.io !== "deno" && !config.certfile);
    if (typeof usr1 === "string") {
      logger.log("debug", `SIGUSR1 is not ignored (${usr1}): Deno starts its inspector on it`);
    }
    let activation: InheritedSocket[] | null = null;
    if (workerId === undefined) {
      try {
        activation = takeListenFds(deps.env, Deno.pid, (name) => deps.unsetEnv?.(name));
      } catch (err) {
        if (err instanceof ActivationError) return cannotListen(deps, err);
        throw err;
      }
      if (activation !== null) {
        logger.log(
          "info",
          `socket activation: serving ${activation.length} inherited socket(s) ` +
            `(${activation.map((s) => `fd ${s.fd}${s.name ? ` ${s.name}` : ""}`).join(", ")}); ` +
            "--bind, --host and --port are ignored",
        );
      } else {
        // --bind fd://N: descriptors the launcher passed, served as activation's are.
        activation = fdBindsOf(config.bind)?.map((fd) => ({ fd })) ?? null;
      }
    }
    // systemd's Type=notify: the process that takes the signals tells it about readiness
    // (server/process/notify.ts, imported only when systemd set NOTIFY_SOCKET).
    if (workerId === undefined && deps.env.NOTIFY_SOCKET) {
      const { notifierFromEnv } = await import("./server/process/notify.ts");
      notifier = notifierFromEnv(deps.env, (name) => deps.unsetEnv?.(name), logger);
    }
    // A malformed app spec is reported by the load below, with or without --reload.
    const reloadApp = config.reload ? specModule(parsed.appSpec) : null;
    // gunicorn's --capture-output, which (as in gunicorn) needs an error log file: the supervisor
    // writes what its workers print there.
    const capture = config.captureOutput && errorLogFile !== null;
    if (config.captureOutput && !capture && workerId === undefined) {
      logger.log(
        "warning",
        "--capture-output needs --error-log FILE; the app's output stays on stdout",
      );
    }
    // A supervisor runs the workers whenever there may be more than one process over time, with
    // --user, so that the process that binds is not the one that runs the app, and to capture
    // the app's output.
    if (
      workerId === undefined &&
      (config.workers > 1 || config.maxRequests > 0 || reloadApp || identity !== null || capture ||
        config.controlSocket !== "")
    ) {
      const { openSharedListeners } = await import("./server/process/handover.ts");
      const { runSupervisor } = await import("./server/process/supervisor.ts");
      const { workerCommand } = await import("./server/process/spawn.ts");
      await titleProcess("master", parsed.appSpec, config, logger);
      let listeners: SharedListeners | null;
      let control: ControlSocket | null = null;
      try {
        listeners = await openSharedListeners(config, activation, identity);
      } catch (err) {
        return cannotListen(deps, err);
      }
      if (listeners === null && config.workers > 1 && config.bind.some(isUnixBind)) {
        // Only the libc backend's supervisor owns sockets its workers inherit; with the deno
        // backend each worker binds for itself, and SO_REUSEPORT does not apply to unix sockets.
        deps.stderr.write(
          "lsbaws: error: --bind unix:... with --workers > 1 needs the libc backend (its " +
            "supervisor binds the socket once and the workers share it); with --io deno or TLS " +
            "each worker would bind the path itself, and SO_REUSEPORT does not apply to unix " +
            "sockets: bind TCP, or run one worker\n",
        );
        return EXIT_USAGE;
      }
      // --initgroups switches the workers' groups only from root; any other process may only ask
      // for its own identity (identityRefusal), and its workers keep the groups it has.
      const initgroups = config.initgroups && Deno.uid() === 0;
      if (identity !== null) {
        logger.log(
          "info",
          `workers run as user ${identity.user} (uid ${identity.uid}), group ${identity.group} ` +
            `(gid ${identity.gid})` +
            (initgroups
              ? ", with the user's supplementary groups"
              : config.initgroups
              ? ", with this process's groups (--initgroups needs root)"
              : ""),
        );
      }
      try {
        // Imported only here: the reloader's path handling loads Deno's Node compatibility
        // modules, memory a server process would otherwise keep for nothing.
        const reloader = reloadApp === null
          ? undefined
          : (await import("./server/process/reload.ts")).createReloader({
            app: reloadApp,
            dirs: config.reloadDir,
            include: config.reloadInclude,
            exclude: config.reloadExclude,
            cwd: deps.cwd,
            logger,
          });
        // --control-socket: bound before the first worker starts; answers once the supervisor runs.
        let view: SupervisorView | null = null;
        if (config.controlSocket !== "") {
          const { startControlSocket } = await import("./server/process/control_socket.ts");
          try {
            control = await startControlSocket(config.controlSocket, () => view, logger);
          } catch (err) {
            deps.stderr.write(
              `lsbaws: cannot open the control socket: ${(err as Error).message}\n`,
            );
            return EXIT_BOOT_ERROR;
          }
        }
        const code = await runSupervisor(args, config, {
          onView: (v) => (view = v),
          logger,
          deps: errorLogFile === null ? deps : { ...deps, stderr: errorLogFile },
          version: VERSION,
          reloader,
          listeners: listeners ?? undefined,
          command: identity === null && !capture ? undefined : {
            ...workerCommand(args),
            ...identity,
            captureOutput: capture,
            initgroups,
          },
          reread: () => rereadSettings(args, deps, staticFiles),
          notify: notifier === null ? undefined : (state) => notifier!.notify(state),
        });
        if (code !== 0 && errorLogFile !== null) {
          deps.stderr.write(
            `lsbaws: exit code ${code}; the error log ${config.errorLog} says why\n`,
          );
        }
        return code;
      } finally {
        await control?.close();
        listeners?.release();
      }
    }
    if (workerId !== undefined) await titleProcess("worker", parsed.appSpec, config, logger);
    const link = workerId === undefined
      ? null
      : (await import("./server/process/worker.ts")).connectWorker(workerId, deps.env, config, {
        sink: deps.stderr,
        logger,
      });
    return await runServer(
      parsed.appSpec,
      config,
      logger,
      deps,
      link,
      link?.inherited ?? activation,
      notifier,
    );
  } finally {
    releasePidFile?.();
    offUsr2();
    notifier?.close();
    statsd?.close();
    logger.close();
    await syslog?.close(); // a TCP collector gets what is still queued
    errorLogFile?.close?.();
  }
}

/**
 * `--proc-title` (the default): a supervisor and its workers show as `lsbaws: master [NAME]` and
 * `lsbaws: worker [NAME]` (`server/process/title.ts`, imported only by them); where that cannot be
 * done, a debug line says why.
 */
async function titleProcess(
  role: "master" | "worker",
  appSpec: string,
  config: Config,
  logger: Logger,
): Promise<void> {
  if (!config.procTitle) return;
  const { setProcessTitle } = await import("./server/process/title.ts");
  const why = setProcessTitle(role, config.name === "" ? appSpec : config.name);
  if (why !== null) logger.log("debug", `no process title: ${why}`);
}

/**
 * Opens the error log and the access log. `--error-log FILE`: the log lines of this process and
 * (forwarded) of its workers go to the file; a worker writes to its stderr, the pipe its
 * supervisor forwards. The CLI's own messages (a boot error and its exit code) stay on stderr. A
 * log file that cannot be opened is reported and gives the boot error exit code instead. With
 * `--user`/`--group` an `--access-log` file is handed to that user, who writes to it.
 */
function openLogs(
  config: Config,
  deps: MainDeps,
  workerId: string | undefined,
  identity: Identity | null,
  statsd: StatsdClient | undefined,
  syslog: SyslogWriter | null,
): { logger: Logger; errorLogFile: LogSink | null } | number {
  let errorLogFile: LogSink | null = null;
  if (config.errorLog !== "-" && workerId === undefined) {
    try {
      errorLogFile = fileSink(config.errorLog, {
        warn: (message) => deps.stderr.write(`lsbaws: warning: ${message}\n`),
      });
    } catch (err) {
      deps.stderr.write(
        `lsbaws: cannot open the error log ${config.errorLog}: ${(err as Error).message}\n`,
      );
      return EXIT_BOOT_ERROR;
    }
  }
  try {
    const logger = createLogger({
      level: config.logLevel,
      accessLog: config.accessLog,
      accessLogFormat: config.accessLogFormat,
      errorLogFormat: config.errorLogFormat,
      errorSink: errorLogFile ?? deps.stderr,
      accessAlso: syslog !== null && config.syslogAccess ? (text) => syslog.lines(text) : undefined,
      onLog: (statsd || syslog)
        ? (level, message) => {
          if (statsd && level !== "debug" && level !== "info") {
            statsd.increment(`lsbaws.log.${level}`);
          }
          syslog?.log(level, message);
        }
        : undefined,
    });
    if (identity !== null && config.accessLog !== "" && config.accessLog !== "-") {
      // The workers (another user) append to the file this process just opened (gunicorn
      // chowns its log files the same way).
      const path = resolvePath(deps.cwd, config.accessLog);
      try {
        Deno.chownSync(path, identity.uid, identity.gid);
      } catch (err) {
        deps.stderr.write(
          `lsbaws: cannot give the access log ${path} to uid ${identity.uid}, gid ` +
            `${identity.gid} (--user/--group): ${(err as Error).message}\n`,
        );
        logger.close();
        errorLogFile?.close?.();
        return EXIT_BOOT_ERROR;
      }
    }
    return { logger, errorLogFile };
  } catch (err) {
    // Only an --access-log file that cannot be opened throws here.
    deps.stderr.write(
      `lsbaws: cannot open the access log ${config.accessLog}: ${(err as Error).message}\n`,
    );
    errorLogFile?.close?.();
    return EXIT_BOOT_ERROR;
  }
}

/** Whether a `--bind` value names a unix socket. */
function isUnixBind(spec: string): boolean {
  return spec.startsWith("unix:");
}

/** The module part of an app spec, or null when the spec is malformed. */
function specModule(spec: string): string | null {
  try {
    return parseAppSpec(spec).module;
  } catch (err) {
    if (err instanceof AppLoadError) return null;
    throw err;
  }
}

/**
 * `--uncaught log`: an error no code catches (the app's, most likely) is logged with its stack
 * and the server carries on, as a background task's exception in uvicorn or gunicorn; `exit`
 * keeps Deno's default. Only serving processes call this: the supervisor runs no app code, and an
 * error there should end it visibly. Returns the function that stops catching.
 */
function logUncaught(config: Config, deps: MainDeps, logger: Logger): () => void {
  if (config.uncaught !== "log" || deps.catchUncaught === undefined) return () => {};
  return deps.catchUncaught((what, err) => {
    logger.log(
      "error",
      `${what} (lsbaws keeps serving; --uncaught exit ends the process instead): ` +
        describeError(err),
    );
  });
}

/**
 * Loads the app and readies it for the engine (`gateway/lifecycle.ts`); on an `AppLoadError`
 * writes `lsbaws: cannot load app: ...` (with where the app's code threw) and returns
 * `EXIT_APP_LOAD_ERROR` instead.
 */
async function loadHandler(
  spec: string,
  config: Config,
  logger: Logger,
  deps: MainDeps,
): Promise<ServedApp | number> {
  try {
    return await loadServedApp(spec, { cwd: deps.cwd, factory: config.factory }, config, logger);
  } catch (err) {
    if (!(err instanceof AppLoadError)) throw err;
    const at = loadErrorLocation(err);
    const where = at === null || err.message.includes(at) ? "" : `\n    at ${at}`;
    deps.stderr.write(`lsbaws: cannot load app: ${err.message}${where}\n`);
    return EXIT_APP_LOAD_ERROR;
  }
}

/**
 * `--check-config` (gunicorn's): the settings were valid and the static directories and the
 * access log opened when this runs; it loads the app and tries the TLS pair on a free loopback
 * port, binds nothing else and starts no worker. 0 and one line on stdout when all is well, else
 * the exit code the same failure has at start.
 */
async function checkConfig(
  spec: string,
  config: Config,
  logger: Logger,
  deps: MainDeps,
): Promise<number> {
  const loaded = await loadHandler(spec, config, logger, deps);
  if (typeof loaded === "number") return loaded;
  if (config.certfile !== "") {
    try {
      const { checkTlsPair } = await import("./server/deno/listen.ts");
      const { cert, key } = await readTlsPair(
        config.certfile,
        config.keyfile,
        config.keyfilePassword,
      );
      checkTlsPair(cert, key);
    } catch (err) {
      deps.stderr.write(`lsbaws: cannot use --certfile/--keyfile: ${(err as Error).message}\n`);
      return EXIT_BOOT_ERROR;
    }
  }
  deps.stdout.write(`lsbaws: configuration OK: ${spec} loads as a ${loaded.style} app\n`);
  // Close what a factory opened, as a stop would.
  if (loaded.dispose !== null) {
    await disposeApp(loaded.dispose, config.shutdownGraceMs, logger, new Promise(() => {}));
  }
  return 0;
}

/**
 * Serves in this process (single-process mode, or as a supervised worker when `link` is set), on
 * the `inherited` sockets when given instead of binding.
 */
async function runServer(
  spec: string,
  config: Config,
  logger: Logger,
  deps: MainDeps,
  link: WorkerLink | null,
  inherited: readonly InheritedSocket[] | null,
  notifier: Notifier | null,
): Promise<number> {
  if (link?.binds) config = { ...config, bind: link.binds };
  setWebSocketDefaults(config);
  // Signals are handled from the start, so a worker stopped while it boots exits cleanly.
  let server: Server | null = null;
  let stopping: null | "graceful" | "fast" = null;
  const stopNow = Promise.withResolvers<void>();
  const fast = (why: string) => {
    stopping = "fast";
    notifier?.stopping();
    logger.log("info", `${why}: closing all connections now`);
    server?.shutdown(0);
    stopNow.resolve();
  };
  const graceful = (why: string) => {
    if (stopping !== null) return fast(`${why} again`);
    stopping = "graceful";
    notifier?.stopping();
    logger.log("info", `${why}: shutting down gracefully (grace ${config.shutdownGraceMs} ms)`);
    server?.shutdown();
  };
  const needsSupervisor = (name: string) => () => {
    if (link) return; // The supervisor handles these; a stray copy is ignored.
    logger.log("warning", `${name} ignored: it needs the supervisor (run with -w 2 or more)`);
  };
  const removers = [
    logUncaught(config, deps, logger),
    deps.onSignal("SIGTERM", () => graceful("SIGTERM")),
    deps.onSignal("SIGINT", () => graceful("SIGINT")),
    deps.onSignal("SIGQUIT", () => fast("SIGQUIT")),
    deps.onSignal("SIGHUP", needsSupervisor("SIGHUP")),
    deps.onSignal("SIGTTIN", needsSupervisor("SIGTTIN")),
    deps.onSignal("SIGTTOU", needsSupervisor("SIGTTOU")),
  ];
  let heartbeat: Heartbeat | null = null;
  try {
    if (link && config.timeout > 0) {
      const { startHeartbeat } = await import("./server/process/heartbeat.ts");
      heartbeat = startHeartbeat({ periodMs: heartbeatPeriodMs(config.timeout) });
    }
    const loaded = await loadHandler(spec, config, logger, deps);
    if (typeof loaded === "number") return loaded;
    const handler = loaded.handler;
    // What a factory opened is closed on every way out once the app is loaded.
    const dispose = () =>
      loaded.dispose === null
        ? Promise.resolve()
        : disposeApp(loaded.dispose, config.shutdownGraceMs, logger, stopNow.promise);
    if (stopping !== null) {
      await dispose();
      return 0;
    }
    try {
      server = await serve(handler, config, {
        logger,
        reusePort: link !== null,
        inherited: inherited ?? undefined,
        onRequestStart: heartbeat?.onRequestStart,
        onRequestDone: link && link.requestBudget > 0 ? link.onRequestDone : undefined,
      });
    } catch (err) {
      await dispose();
      return cannotListen(deps, err);
    }
    if (link) {
      const live = server;
      link.watchSupervisor(() => graceful("supervisor gone (stdin closed)"), (command) => {
        if (command === COMMAND_QUIESCE) {
          // "closed" only once the sockets really are: see `Server.stopListening`.
          live.stopListening().then(() => link.send({ t: "closed" }));
        }
      });
      link.ready(server.addrs);
    } else {
      const scheme = config.certfile ? "https" : "http";
      for (const addr of server.addrs) {
        deps.stdout.write(`lsbaws ${VERSION} listening on ${formatAddr(addr, scheme)}\n`);
      }
      notifier?.ready();
    }
    if (loaded.onListen !== null) callListenHook(loaded.onListen, server.addrs, logger);
    deps.onListen?.(server);
    if (stopping === "graceful") server.shutdown();
    else if (stopping === "fast") server.shutdown(0);
    await server.finished;
    await dispose();
    logger.log(link ? "debug" : "info", "stopped");
    return 0;
  } finally {
    heartbeat?.stop();
    for (const r of removers) r();
  }
}

if (import.meta.main) {
  const code = await main(Deno.args, processDeps());
  Deno.exit(code);
}
