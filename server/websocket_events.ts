/**
 * The `on<event>` handler properties of the WebSocket surface (`onopen`, `onmessage`, `onclose`,
 * `onerror`) on top of `EventTarget`.
 *
 * Contract: assigning a function makes it the handler for that event type, called with `this`
 * set to the socket; assigning anything else clears it. The handler runs in the order in which
 * its property was first set relative to other listeners (as in browsers), because one listener
 * per type is registered on first assignment and looks the current handler up when it fires.
 * That listener is a `HandlerSlot` object (`handleEvent`), not a closure over the socket: see
 * `server/websocket_idle.ts` for why a socket makes no closures over itself.
 */

/** The listener registered for one handler property: calls its current handler, if any. */
class HandlerSlot implements EventListenerObject {
  /** The handler property's value. */
  fn: EventHandler = null;
  /** Creates the slot of `target` (the `this` the handler is called with). */
  constructor(readonly target: WebSocketEvents) {}
  /** `EventListenerObject`: runs the current handler. */
  handleEvent(ev: Event): void {
    const fn = this.fn;
    if (fn) fn.call(this.target as unknown as WebSocket, ev);
  }
}

/** A generic event handler property value. */
export type EventHandler = ((this: WebSocket, ev: Event) => unknown) | null;

/** `EventTarget` plus the four WebSocket handler properties; see the module comment. */
export class WebSocketEvents extends EventTarget {
  #handlers: Record<string, HandlerSlot> = {};

  /** `open` event handler property. */
  get onopen(): EventHandler {
    return this.#handlers.open?.fn ?? null;
  }
  set onopen(fn: EventHandler) {
    this.#setHandler("open", fn);
  }
  /** `message` event handler property. */
  get onmessage(): ((this: WebSocket, ev: MessageEvent) => unknown) | null {
    return this.#handlers.message?.fn ?? null;
  }
  set onmessage(fn: ((this: WebSocket, ev: MessageEvent) => unknown) | null) {
    this.#setHandler("message", fn as EventHandler);
  }
  /** `close` event handler property. */
  get onclose(): ((this: WebSocket, ev: CloseEvent) => unknown) | null {
    return this.#handlers.close?.fn ?? null;
  }
  set onclose(fn: ((this: WebSocket, ev: CloseEvent) => unknown) | null) {
    this.#setHandler("close", fn as EventHandler);
  }
  /** `error` event handler property. */
  get onerror(): EventHandler {
    return this.#handlers.error?.fn ?? null;
  }
  set onerror(fn: EventHandler) {
    this.#setHandler("error", fn);
  }

  #setHandler(type: string, fn: EventHandler): void {
    let slot = this.#handlers[type];
    if (slot === undefined) {
      slot = new HandlerSlot(this);
      this.#handlers[type] = slot;
      this.addEventListener(type, slot);
    }
    slot.fn = typeof fn === "function" ? fn : null;
  }
}
