/**
 * Normalises what an app returned into one pull-based shape (rules APP-2, BODY-1, BODY-5, BODY-6).
 *
 * Contract:
 * - `openBody(value)` accepts a `Uint8Array`, a ReadableStream, an async iterable or a sync
 *   iterable, and returns a `BodySource`. It throws `AppContractError` for `null`/`undefined`
 *   (APP-2), strings (BODY-2) and anything else (BODY-1). Errors thrown by the body's own
 *   `[Symbol.iterator]()`/`getReader()` propagate unchanged (the runner wraps them).
 * - `BodySource.next()` returns an iterator result, or a Promise of one for async bodies. Chunk
 *   types are not checked here (the runner checks each chunk, BODY-2).
 * - `BodySource.close(report)` releases the body exactly once however often it is called
 *   (BODY-5): `return()` on the iterator, `cancel()` on the stream reader, then the body's own
 *   `close()` if it has one. Hook errors go to `report` (BODY-6), never to the caller. It returns
 *   a Promise only when a hook returned one.
 */
import { AppContractError } from "./errors.ts";

/** One step of a body: like `IteratorResult`, with the chunk unchecked. */
export interface BodyStep {
  /** True once the body has ended. */
  readonly done?: boolean;
  /** The chunk (when not done). */
  readonly value?: unknown;
}

/** A response body opened for pulling. */
export interface BodySource {
  /** The next step, or a Promise of it for async bodies. */
  next(): BodyStep | Promise<BodyStep>;
  /** BODY-5: releases the body once; later calls do nothing. */
  close(report: (err: unknown) => void): Promise<void> | undefined;
}

type Hook = () => unknown;

/** Opens an app's return value as a `BodySource` (see the module comment). */
export function openBody(value: unknown): BodySource {
  if (value instanceof Uint8Array) return singleChunk(value);
  if (value === undefined || value === null) {
    throw new AppContractError("APP-2", `the app returned ${value}, not a response body`);
  }
  if (typeof value === "string") {
    throw new AppContractError("BODY-2", "the app returned a string; encode it to a Uint8Array");
  }
  const ownClose = closeHookOf(value);
  if (value instanceof ReadableStream) {
    const reader = (value as ReadableStream<unknown>).getReader();
    return source(() => reader.read(), [() => reader.cancel(), ownClose]);
  }
  if (typeof value === "object" && !ArrayBuffer.isView(value)) {
    const asyncIter = (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
    if (typeof asyncIter === "function") {
      const it = asyncIter.call(value) as AsyncIterator<unknown>;
      return source(() => it.next(), [returnHookOf(it), ownClose]);
    }
    const syncIter = (value as Partial<Iterable<unknown>>)[Symbol.iterator];
    if (typeof syncIter === "function") {
      const it = syncIter.call(value) as Iterator<unknown>;
      return source(() => it.next(), [returnHookOf(it), ownClose]);
    }
  }
  throw new AppContractError(
    "BODY-1",
    "the app returned a value that is not a Uint8Array, an iterable, an async iterable " +
      "or a ReadableStream",
  );
}

function singleChunk(chunk: Uint8Array): BodySource {
  let sent = false;
  return source(() => {
    if (sent) return { done: true, value: undefined };
    sent = true;
    return { done: false, value: chunk };
  }, []);
}

function source(
  next: () => BodyStep | Promise<BodyStep>,
  hooks: Array<Hook | undefined>,
): BodySource {
  let released = false;
  return {
    next,
    close(report: (err: unknown) => void): Promise<void> | undefined {
      if (released) return undefined;
      released = true;
      return runHooks(hooks, 0, report);
    },
  };
}

/** Runs hooks in order, waiting for any that return a Promise; errors go to `report`. */
function runHooks(
  hooks: Array<Hook | undefined>,
  from: number,
  report: (err: unknown) => void,
): Promise<void> | undefined {
  for (let i = from; i < hooks.length; i++) {
    const hook = hooks[i];
    if (hook === undefined) continue;
    let out: unknown;
    try {
      out = hook();
    } catch (err) {
      report(err);
      continue;
    }
    if (out !== null && typeof (out as PromiseLike<unknown>)?.then === "function") {
      return Promise.resolve(out as PromiseLike<unknown>).then(
        () => runHooks(hooks, i + 1, report),
        (err) => {
          report(err);
          return runHooks(hooks, i + 1, report);
        },
      );
    }
  }
  return undefined;
}

function returnHookOf(it: Iterator<unknown> | AsyncIterator<unknown>): Hook | undefined {
  return typeof it.return === "function" ? () => it.return!() : undefined;
}

function closeHookOf(value: object | unknown): Hook | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const close = (value as { close?: unknown }).close;
  return typeof close === "function" ? () => close.call(value) : undefined;
}
