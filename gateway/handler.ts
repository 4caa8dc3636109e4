/**
 * Chooses how a loaded app is called and adapts it to the engine's `Handler`.
 *
 * Contract (`--interface auto|gateway|fetch`):
 * - auto: an object with a callable `fetch` (own or inherited, e.g. Elysia's prototype getter) is
 *   a fetch app (`export default { fetch }` runs as `deno serve` would run it); a plain function
 *   is a gateway app `(environ, startResponse)`.
 * - gateway: the value must be a function; `--validate` wraps it in the contract validator.
 * - fetch: a function is called as `(request, info)`; an object must have a callable `fetch`,
 *   which is called with the object as `this`.
 * - A value that fits none of these throws `AppLoadError` (`not_callable`) naming the export.
 * - `listenHookOf(value)`: a fetch app object's `onListen(localAddr)` (the `deno serve` default
 *   export's optional hook, own or inherited) bound to the object, else null. The server calls it
 *   once per listening address after it listens (`main.ts`); what it throws or rejects with is
 *   logged, and serving goes on.
 * - `disposerOf(value)`: the app's `[Symbol.asyncDispose]()`, else its `[Symbol.dispose]()`
 *   (explicit resource management; own or inherited, on a function or an object), bound to it,
 *   else null. The server calls it once, after a graceful stop has drained every request
 *   (`main.ts`), and awaits it within `--shutdown-grace-ms`: the place to close what an app
 *   factory opened.
 */
import type { Config } from "../server/config.ts";
import type { Handler } from "../server/exchange.ts";
import type { Logger } from "../server/log.ts";
import { AppLoadError } from "./errors.ts";
import { type FetchHandler, fetchHandler } from "./fetch.ts";
import { gatewayHandler } from "./run_app.ts";
import type { App } from "./types.ts";
import { validateApp } from "./validate.ts";

/** What the loader hands over: the export's value and where it came from. */
export interface LoadedAppLike {
  /** The exported value. */
  readonly value: unknown;
  /** Export path as asked for (`default` when omitted). */
  readonly exportName: string;
  /** Module URL. */
  readonly url: string;
}

/** The calling convention picked for an app. */
export type AppStyle = "gateway" | "fetch";

/** Returns the object's callable `fetch` (own or inherited), or null. */
export function fetchMethodOf(value: unknown): ((...args: unknown[]) => unknown) | null {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return null;
  let f: unknown;
  try {
    f = (value as { fetch?: unknown }).fetch;
  } catch {
    return null;
  }
  return typeof f === "function" ? (f as (...args: unknown[]) => unknown) : null;
}

/** Decides the app style for `value` under `mode`; throws `AppLoadError` when none fits. */
export function detectStyle(
  loaded: LoadedAppLike,
  mode: Config["interface"],
): { style: AppStyle; call: (...args: unknown[]) => unknown } {
  const v = loaded.value;
  const where = `export '${loaded.exportName}' of ${loaded.url}`;
  const fetchFn = typeof v === "function" ? null : fetchMethodOf(v);
  if (mode === "gateway") {
    if (typeof v !== "function") {
      throw new AppLoadError(
        "not_callable",
        `${where} is not a gateway app function (environ, startResponse) ` +
          `(it is ${fetchFn ? "an object with fetch(): use --interface fetch or auto" : typeof v})`,
        { exportName: loaded.exportName, file: loaded.url },
      );
    }
    return { style: "gateway", call: v as (...args: unknown[]) => unknown };
  }
  if (fetchFn) {
    return { style: "fetch", call: (...args: unknown[]) => fetchFn.apply(v, args) };
  }
  if (typeof v === "function") {
    return {
      style: mode === "fetch" ? "fetch" : "gateway",
      call: v as (...args: unknown[]) => unknown,
    };
  }
  throw new AppLoadError(
    "not_callable",
    `${where} is neither a function nor an object with a fetch() method (it is ${
      v === null ? "null" : typeof v
    })`,
    { exportName: loaded.exportName, file: loaded.url },
  );
}

/** Adapts a loaded app to the engine according to `config.interface` and `config.validate`. */
export function createHandler(loaded: LoadedAppLike, config: Config, logger: Logger): Handler {
  const { style, call } = detectStyle(loaded, config.interface);
  if (style === "fetch") {
    if (config.validate) {
      logger.log("warning", "--validate checks gateway apps only; ignored for a fetch app");
    }
    return fetchHandler(call as FetchHandler);
  }
  const app = config.validate ? validateApp(call as App) : call as App;
  return gatewayHandler(app, config);
}

/** A listen hook: `onListen` of a `deno serve` style export. */
export type ListenHook = (localAddr: Deno.Addr) => unknown;

/** The fetch app object's `onListen`, bound to it, or null (see the module comment). */
export function listenHookOf(value: unknown): ListenHook | null {
  if (fetchMethodOf(value) === null || typeof value === "function") return null;
  let hook: unknown;
  try {
    hook = (value as { onListen?: unknown }).onListen;
  } catch {
    return null;
  }
  return typeof hook === "function" ? (hook as ListenHook).bind(value) : null;
}

/** The app's `Symbol.asyncDispose` or `Symbol.dispose`, bound to it, or null. */
export function disposerOf(value: unknown): (() => unknown) | null {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return null;
  for (const key of [Symbol.asyncDispose, Symbol.dispose]) {
    let fn: unknown;
    try {
      fn = (value as Record<symbol, unknown>)[key];
    } catch {
      return null;
    }
    if (typeof fn === "function") return (fn as () => unknown).bind(value);
  }
  return null;
}
