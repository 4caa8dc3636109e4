/**
 * Test support: drive headless Chromium over the Chrome DevTools Protocol with Deno's own
 * WebSocket client (no puppeteer, no downloads).
 *
 * Contract:
 * - `findChromium()` returns the path of a Chromium/Chrome binary on PATH (Debian's `chromium`
 *   first), or null.
 * - `launchChromium(path)` starts it headless with a fresh profile directory and background
 *   networking, sync, component updates and QUIC off, waits for the DevTools endpoint it prints,
 *   and connects to the first page target. `close()` ends the browser (by its pid) and removes
 *   the profile.
 * - `Page.send(method, params)` sends one command and resolves with its result (rejects with the
 *   protocol error); `waitFor(event)` resolves with the next event of that name. `navigate(url)`
 *   and `evaluate(expression)` wrap the common calls (`evaluate` awaits promises and returns the
 *   value by value).
 */

/** A connected page target. */
export interface Page {
  /** Sends a CDP command to the page and resolves with its result. */
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Resolves with the params of the next `event` (rejects after `timeoutMs`). */
  waitFor(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Navigates and waits for the load event. */
  navigate(url: string): Promise<void>;
  /** Evaluates `expression` in the page (promises awaited) and returns its value. */
  evaluate<T = unknown>(expression: string): Promise<T>;
}

/** A running browser. */
export interface Browser {
  /** The first page. */
  readonly page: Page;
  /** Chromium's stderr so far (for failure messages). */
  readonly log: () => string;
  /** Kills the browser and removes its profile. */
  close(): Promise<void>;
}

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/** The path of a Chromium binary on PATH, or null. */
export function findChromium(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of CANDIDATES) {
      try {
        const path = `${dir}/${name}`;
        if (Deno.statSync(path).isFile) return path;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/** Starts headless Chromium and connects to its first page (see the module comment). */
export async function launchChromium(path: string, timeoutMs = 20_000): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "lsbaws-chromium-" });
  const child = new Deno.Command(path, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const drained = (async () => {
    while (true) {
      const r = await reader.read().catch(() => ({ done: true, value: "" }));
      if (r.done) return;
      stderr += r.value;
    }
  })();
  const close = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await drained;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    const deadline = Date.now() + timeoutMs;
    let port = 0;
    while (port === 0) {
      const m = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(stderr);
      if (m) port = Number(m[1]);
      else if (Date.now() > deadline) throw new Error(`no DevTools endpoint:\n${stderr}`);
      else await new Promise((r) => setTimeout(r, 50));
    }
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as Array<
      { type: string; webSocketDebuggerUrl: string }
    >;
    const target = targets.find((t) => t.type === "page");
    if (!target) throw new Error(`no page target: ${JSON.stringify(targets)}`);
    const page = await connectPage(target.webSocketDebuggerUrl);
    return {
      page: page.api,
      log: () => stderr,
      async close() {
        await page.close();
        await close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

async function connectPage(url: string): Promise<{ api: Page; close(): Promise<void> }> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const waiters = new Map<string, Array<(params: Record<string, unknown>) => void>>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data as string);
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(`${msg.error.message} (${msg.error.code})`));
      else p?.resolve(msg.result);
    } else if (msg.method) {
      const list = waiters.get(msg.method);
      const w = list?.shift();
      w?.(msg.params ?? {});
    }
  };
  const closed = new Promise<void>((resolve) => (ws.onclose = () => resolve()));
  const api: Page = {
    send(method, params = {}) {
      const id = nextId++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      });
    },
    waitFor(event, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${event}`)),
          timeoutMs,
        );
        const list = waiters.get(event) ?? [];
        list.push((params) => {
          clearTimeout(timer);
          resolve(params);
        });
        waiters.set(event, list);
      });
    },
    async navigate(target) {
      const loaded = api.waitFor("Page.loadEventFired");
      await api.send("Page.navigate", { url: target });
      await loaded;
    },
    async evaluate<T>(expression: string): Promise<T> {
      const r = await api.send("Runtime.evaluate", {
        expression,
        awaitPromise: true,
        returnByValue: true,
      });
      if (r.exceptionDetails) throw new Error(`page error: ${JSON.stringify(r.exceptionDetails)}`);
      return (r.result as { value: T }).value;
    },
  };
  await api.send("Page.enable");
  await api.send("Runtime.enable");
  return {
    api,
    async close() {
      ws.close();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
    },
  };
}
