/**
 * An app's life around the requests it serves: loading it ready for the engine, calling the
 * `deno serve` `onListen` hook once the server listens, and disposing it when the server stops.
 *
 * Contract:
 * - `loadServedApp(spec, options, config, logger)` loads the app (`loader.ts`, factories
 *   included), decides its style (`handler.ts`) and returns the engine `Handler` with the app's
 *   optional hooks: a fetch app's `onListen` (`listenHookOf`) and any app's `Symbol.asyncDispose`
 *   or `Symbol.dispose` (`disposerOf`). It throws what the loader throws (`AppLoadError`).
 * - `callListenHook(hook, addrs, logger)` calls the hook once per address, each with a copy of
 *   it; a throw or a rejection is logged at ERROR and never propagates.
 * - `disposeApp(dispose, limitMs, logger, stopNow)` calls the dispose and waits for it for at most
 *   `limitMs`, and not past `stopNow` (a fast stop); a failure is logged at ERROR, a late one at
 *   WARNING. It never throws.
 */
import type { Config } from "../server/config.ts";
import type { Handler } from "../server/exchange.ts";
import { describeError } from "../server/http/errors.ts";
import type { Logger } from "../server/log.ts";
import {
  type AppStyle,
  createHandler,
  detectStyle,
  disposerOf,
  type ListenHook,
  listenHookOf,
} from "./handler.ts";
import { loadApp, type LoadAppOptions } from "./loader.ts";

/** A loaded app, wrapped for the engine, with its optional hooks. */
export interface ServedApp {
  /** What the engine calls per request. */
  readonly handler: Handler;
  /** The calling convention picked. */
  readonly style: AppStyle;
  /** A fetch app's `onListen` (`listenHookOf`), else null. */
  readonly onListen: ListenHook | null;
  /** The app's `Symbol.asyncDispose`/`Symbol.dispose` (`disposerOf`), else null. */
  readonly dispose: (() => unknown) | null;
}

/** Loads the app named by `spec` and readies it for the engine; see the module comment. */
export async function loadServedApp(
  spec: string,
  options: LoadAppOptions,
  config: Config,
  logger: Logger,
): Promise<ServedApp> {
  const loaded = await loadApp(spec, options);
  const { style } = detectStyle(loaded, config.interface);
  const onListen = style === "fetch" ? listenHookOf(loaded.value) : null;
  const dispose = disposerOf(loaded.value);
  return { handler: createHandler(loaded, config, logger), style, onListen, dispose };
}

/** Calls `hook` once per listening address; see the module comment. */
export function callListenHook(
  hook: ListenHook,
  addrs: readonly Deno.Addr[],
  logger: Logger,
): void {
  const report = (err: unknown) =>
    logger.log("error", `the app's onListen failed (serving goes on): ${describeError(err)}`);
  for (const addr of addrs) {
    try {
      const r = hook({ ...addr });
      if (r instanceof Promise) r.catch(report);
    } catch (err) {
      report(err);
    }
  }
}

/** Calls the app's dispose and waits for it within bounds; see the module comment. */
export async function disposeApp(
  dispose: () => unknown,
  limitMs: number,
  logger: Logger,
  stopNow: Promise<void>,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("late"), limitMs);
  });
  const done = Promise.resolve().then(dispose).then(() => "done", (err) => {
    logger.log("error", `the app's dispose failed: ${describeError(err)}`);
    return "failed";
  });
  try {
    const outcome = await Promise.race([done, limit, stopNow.then(() => "stopped")]);
    if (outcome === "late") {
      logger.log(
        "warning",
        `the app's dispose did not finish within ${limitMs} ms; exiting anyway`,
      );
    } else if (outcome === "stopped") {
      logger.log("warning", "fast stop: not waiting for the app's dispose");
    } else if (outcome === "done") logger.log("debug", "app disposed");
  } finally {
    clearTimeout(timer);
  }
}
