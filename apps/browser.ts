/**
 * A page for real browsers: a classic form POST, a multipart file upload and a WebSocket echo,
 * all served by one fetch app (used by tests/e2e/chromium_test.ts, and handy by hand).
 *
 * Contract:
 * - `GET /` → the HTML page: `#form` (urlencoded POST to `/form`, fields `name` and `color`),
 *   `#upload` (multipart POST to `/upload?sha256=1`, file field `file`, text field `note`), and a
 *   WebSocket client: `window.wsEcho(text)` opens `ws://<host>/ws`, sends `text`, shows the reply
 *   in `#ws-out` as `echo: <reply>` and resolves to it.
 * - `POST /form` → an HTML page whose `#out` reads `name=<name> color=<color>`.
 * - `POST /upload` → `apps/upload.ts`'s handler; the JSON result is shown in `#out` on an HTML page
 *   (errors keep their status and text).
 * - `GET /ws` with `Upgrade: websocket` → `apps/websocket.ts`'s echo.
 * Run it with `lsbaws apps/browser.ts` and open http://127.0.0.1:8000/.
 */
import { handleUpload } from "./upload.ts";
import websocket from "./websocket.ts";

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>lsbaws in a browser</title>
<h1>lsbaws in a browser</h1>
<form id="form" method="post" action="/form">
  <input id="name" name="name" value=""> <input id="color" name="color" value="blue">
  <button>send</button>
</form>
<form id="upload" method="post" action="/upload?sha256=1" enctype="multipart/form-data">
  <input id="note" name="note" value="from the browser"> <input id="file" type="file" name="file">
  <button>upload</button>
</form>
<p id="ws-out"></p>
<script>
  window.wsEcho = (text) => new Promise((resolve, reject) => {
    const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws");
    ws.onopen = () => ws.send(text);
    ws.onmessage = (e) => {
      document.getElementById("ws-out").textContent = "echo: " + e.data;
      ws.close(1000, "done");
      resolve(e.data);
    };
    ws.onerror = () => reject(new Error("websocket error"));
  });
</script>
`;

function html(body: string, status = 200): Response {
  return new Response(`<!doctype html><meta charset="utf-8"><title>result</title>${body}\n`, {
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
  });
}

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page's routes (see the module comment). */
async function fetch(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/ws") return websocket.fetch(request);
  if (request.method === "POST" && url.pathname === "/form") {
    const form = await request.formData();
    return html(
      `<p id="out">name=${escape(String(form.get("name")))} color=${
        escape(String(form.get("color")))
      }</p>`,
    );
  }
  if (request.method === "POST" && url.pathname === "/upload") {
    const res = await handleUpload(request);
    return html(`<pre id="out">${escape(await res.text())}</pre>`, res.status);
  }
  if (url.pathname === "/") {
    return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  return new Response("not found\n", { status: 404 });
}

export default { fetch };
