/**
 * Gateway errors, split by who is at fault.
 *
 * Contract:
 * - `AppLoadError`: the app could not be loaded (bad spec, missing file, import failure, missing
 *   export, export not callable). `kind` is stable; `main.ts` maps it to `EXIT_APP_LOAD_ERROR`.
 * - `AppError`: the app (or its body) threw; `cause` is the original value. Status 500.
 * - `AppContractError`: the app broke a numbered rule of `gateway/types.ts`; `rule` names it
 *   (for example `"SR-2"`). Status 500.
 * - `AppError` and `AppContractError` are `HttpError`s (status 500, `logged`: the gateway logs them
 *   with their details before the engine answers). `contractErrorOf(err)` turns an engine
 *   `ResponseError` into the `AppContractError` for the same rule (`SPEC_RULE_OF`).
 * - Messages are for the server log only; the connection never sends them to a client.
 * - The gateway's one-line message helpers live here: `describeBriefly(err)` ("Name: message",
 *   for messages an app may see, such as an `AppError`'s or an abort reason; log lines with the
 *   stack use `describeError` from `server/http/errors.ts`), `typeName(value)` ("null",
 *   `typeof`, or the class name) and `describeType(value)` (`typeof`, or "a ClassName").
 * - `loadErrorLocation(err)` finds where an app's import threw (`file:line:col`), so a load error
 *   whose message lacks it can name it.
 * This module imports only the engine's error model.
 */
import { HttpError, ResponseError, type ResponseRule } from "../server/http/errors.ts";

/** Why an app could not be loaded. */
export type AppLoadErrorKind =
  /** The `module:export` spec is malformed. */
  | "spec"
  /** The module file does not exist (or is not a file). */
  | "not_found"
  /** The module exists but importing it failed (syntax error, top-level throw, bad import). */
  | "import"
  /** The named export (or a step of a dotted path) does not exist. */
  | "export"
  /** The export exists but is neither a function nor an object with a callable `fetch`. */
  | "not_callable"
  /** The app factory threw or rejected. */
  | "factory";

/** Details attached to an `AppLoadError`. */
export interface AppLoadErrorDetails {
  /** The spec as given on the command line. */
  readonly spec?: string;
  /** The module as a `file:` URL (or the path, when it could not be resolved). */
  readonly file?: string;
  /** The export path that was asked for (`"default"` when omitted). */
  readonly exportName?: string;
  /** Exports the module does have (for `"export"` and `"not_callable"`). */
  readonly available?: readonly string[];
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/** The app named by a spec could not be loaded. `main.ts` prints it and exits. */
export class AppLoadError extends Error {
  /** Stable reason, used by tests and for the exit code. */
  readonly kind: AppLoadErrorKind;
  /** The spec as given. */
  readonly spec: string | undefined;
  /** The module URL or path. */
  readonly file: string | undefined;
  /** The export path asked for. */
  readonly exportName: string | undefined;
  /** Exports the module has (empty when unknown). */
  readonly available: readonly string[];

  /** Creates a load error; `message` should name the file and the export and give a hint. */
  constructor(kind: AppLoadErrorKind, message: string, details: AppLoadErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "AppLoadError";
    this.kind = kind;
    this.spec = details.spec;
    this.file = details.file;
    this.exportName = details.exportName;
    this.available = details.available ?? [];
  }
}

/** The app threw (or its Promise rejected, or its body threw while being iterated). */
export class AppError extends HttpError {
  /** Wraps `cause`, the value the app threw. */
  constructor(cause: unknown) {
    super(500, "app-threw", `the app threw: ${describeBriefly(cause)}`, { cause, logged: true });
  }
}

/** The app broke a numbered rule of the gateway contract (`gateway/types.ts`). */
export class AppContractError extends HttpError {
  /** Creates an error for `rule` (e.g. `"SR-6"`) with a human-readable detail. */
  constructor(rule: string, detail: string) {
    super(500, rule, `gateway contract rule ${rule}: ${detail}`, { logged: true });
  }
}

/** The gateway spec rule (`gateway/types.ts`) each engine response rule belongs to. */
export const SPEC_RULE_OF: Readonly<Record<ResponseRule, string>> = Object.freeze({
  "status-range": "SR-2",
  "reason-ctl": "SR-2",
  "header-name-token": "SR-4",
  "header-value-ctl": "SR-5",
  "header-value-latin1": "SR-5",
  "hop-by-hop": "SR-6",
  "content-length-digits": "SR-7",
  "response-order": "SR-7",
  "body-bytes": "SR-7",
  "early-hints-field": "LS-12",
});

/**
 * An engine `ResponseError` as the `AppContractError` for the same rule (`fallbackRule` names the
 * rule when the spec has no closer one); anything else is returned unchanged.
 */
export function contractErrorOf(err: unknown, fallbackRule?: string): unknown {
  if (!(err instanceof ResponseError)) return err;
  const rule = fallbackRule !== undefined && SPEC_RULE_OF[err.rule] === "SR-7"
    ? fallbackRule
    : SPEC_RULE_OF[err.rule];
  return new AppContractError(rule, `the server rejected the response: ${err.message}`);
}

/** One-line description of a thrown value ("TypeError: boom"), without the stack. */
export function describeBriefly(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return `non-Error value ${String(value)}`;
  } catch {
    return "non-Error value";
  }
}

/** A short description of a value's type for messages: "null", `typeof`, or the class name. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "object";
}

/** A value's type for messages: `typeof` for primitives (and null), else "a ClassName". */
export function describeType(value: unknown): string {
  if (value === null || typeof value !== "object") return String(typeof value);
  return `a ${(value as object).constructor?.name ?? "object"}`;
}

/** lsbaws's own code: stack frames here say nothing about the app. */
const OWN_CODE = ["gateway/", "server/", "main.ts"].map((p) =>
  new URL(`../${p}`, import.meta.url).href
);

/**
 * Where an app's import threw: the first `file:line:col` (or `https:`) frame of its innermost
 * cause's stack, unless that frame is lsbaws's own code (`gateway/`, `server/`, `main.ts`: a
 * missing module found by the loader's own check), or null. An error without a cause was raised by
 * lsbaws itself (a missing export): null.
 */
export function loadErrorLocation(err: unknown): string | null {
  if (!(err instanceof Error) || err.cause === undefined) return null;
  let e: unknown = err;
  while (e instanceof Error && e.cause !== undefined) e = e.cause;
  if (!(e instanceof Error) || typeof e.stack !== "string") return null;
  const m = /\bat (?:.*\()?((?:file|https?):\/\/[^\s()]+:\d+:\d+)\)?\s*$/m.exec(e.stack);
  return m === null || OWN_CODE.some((own) => m[1].startsWith(own)) ? null : m[1];
}
