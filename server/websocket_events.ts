/**
 * The `on<event>` handler properties of the WebSocket surface (`onopen`, `onmessage`, `onclose`,
 * `onerror`) on top of `EventTarget`.
 *
 * Contract: assigning a function makes it the handler for that event type, called with `this`
 * set to the socket; assigning anything else clears it. The handler runs in the order in which
 * its property was first set relative to other listeners (as in browsers), because one listener
 * per type is registered on first assignment and looks the current handler up when it fires.
 */

/** A generic event handler property value. */
export type EventHandler = ((this: WebSocket, ev: Event) => unknown) | null;

/** `EventTarget` plus the four WebSocket handler properties; see the module comment. */
export class WebSocketEvents extends EventTarget {
  #handlers: Record<string, EventHandler> = {};

  /** `open` event handler property. */
  get onopen(): EventHandler {
    return this.#handlers.open ?? null;
  }
  set onopen(fn: EventHandler) {
    this.#setHandler("open", fn);
  }
  /** `message` event handler property. */
  get onmessage(): ((this: WebSocket, ev: MessageEvent) => unknown) | null {
    return this.#handlers.message ?? null;
  }
  set onmessage(fn: ((this: WebSocket, ev: MessageEvent) => unknown) | null) {
    this.#setHandler("message", fn as EventHandler);
  }
  /** `close` event handler property. */
  get onclose(): ((this: WebSocket, ev: CloseEvent) => unknown) | null {
    return this.#handlers.close ?? null;
  }
  set onclose(fn: ((this: WebSocket, ev: CloseEvent) => unknown) | null) {
    this.#setHandler("close", fn as EventHandler);
  }
  /** `error` event handler property. */
  get onerror(): EventHandler {
    return this.#handlers.error ?? null;
  }
  set onerror(fn: EventHandler) {
    this.#setHandler("error", fn);
  }

  #setHandler(type: string, fn: EventHandler): void {
    const had = type in this.#handlers;
    this.#handlers[type] = typeof fn === "function" ? fn : null;
    if (!had) {
      this.addEventListener(type, (ev) => {
        const h = this.#handlers[type];
        if (h) h.call(this as unknown as WebSocket, ev);
      });
    }
  }
}
