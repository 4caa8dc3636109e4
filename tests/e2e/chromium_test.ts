// Real client: headless Chromium (Debian's `chromium`, driven over the DevTools protocol) loads
// apps/browser.ts from lsbaws, submits a form, uploads a file with multipart/form-data and talks
// over a WebSocket; after each step the test reads back what the page shows.
import assert from "node:assert/strict";
import { startApp } from "../_support/server.ts";
import { findChromium, launchChromium } from "../_support/cdp.ts";

const CHROMIUM = findChromium();
if (CHROMIUM === null) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "chromium_test: skipped, no chromium on PATH (.ci/run installs Debian's chromium)\n",
    ),
  );
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name:
    "chromium: form POST, multipart file upload and a WebSocket echo (plain and compressed) through lsbaws",
  ignore: CHROMIUM === null,
  async fn() {
    const server = await startApp("apps/browser.ts");
    const browser = await launchChromium(CHROMIUM!);
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-chromium-file-" });
    const base = `http://127.0.0.1:${server.port}`;
    const { page } = browser;
    try {
      // 1. A classic form submission (a navigation, urlencoded).
      await page.navigate(`${base}/`);
      assert.equal(await page.evaluate("document.title"), "lsbaws in a browser");
      const submitted = page.waitFor("Page.loadEventFired");
      await page.evaluate(`
        document.getElementById("name").value = "Ada Lovelace";
        document.getElementById("color").value = "grün & blue";
        document.getElementById("form").requestSubmit();
      `);
      await submitted;
      assert.equal(
        await page.evaluate(`document.getElementById("out").textContent`),
        "name=Ada Lovelace color=grün & blue",
      );

      // 2. A file upload (multipart/form-data built by the browser).
      const content = new Uint8Array(2_000_000).map((_, i) => (i * 131 + (i >> 8)) & 0xff);
      const file = `${dir}/upload.bin`;
      await Deno.writeFile(file, content);
      await page.navigate(`${base}/`);
      const doc = await page.send("DOM.getDocument");
      const input = await page.send("DOM.querySelector", {
        nodeId: (doc.root as { nodeId: number }).nodeId,
        selector: "#file",
      });
      await page.send("DOM.setFileInputFiles", { files: [file], nodeId: input.nodeId });
      const uploaded = page.waitFor("Page.loadEventFired", 30_000);
      await page.evaluate(`document.getElementById("upload").requestSubmit()`);
      await uploaded;
      const shown = JSON.parse(
        await page.evaluate<string>(`document.getElementById("out").textContent`),
      );
      assert.deepEqual(shown, {
        files: [{
          field: "file",
          name: "upload.bin",
          type: "application/octet-stream",
          size: content.length,
          sha256: await sha256(content),
        }],
        fields: { note: "from the browser" },
      });

      // 3. A WebSocket echo (apps/websocket.ts behind /ws).
      await page.navigate(`${base}/`);
      assert.equal(await page.evaluate(`wsEcho("hello from chromium ✓")`), "hello from chromium ✓");
      assert.equal(
        await page.evaluate(`document.getElementById("ws-out").textContent`),
        "echo: hello from chromium ✓",
      );

      // 4. The same echo with permessage-deflate, which Chromium offers with context takeover:
      // long, repetitive messages (compressed both ways), each referring back to the previous.
      const deflated = JSON.parse(
        await page.evaluate<string>(`new Promise((resolve, reject) => {
        const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws");
        const sent = ["a", "b", "a"].map((c, i) => (c + " lorem ipsum dolor " + i).repeat(300));
        const got = [];
        ws.onopen = () => sent.forEach((m) => ws.send(m));
        ws.onmessage = (e) => {
          got.push(e.data);
          if (got.length < sent.length) return;
          ws.close(1000);
          resolve(JSON.stringify({ ext: ws.extensions, same: got.every((g, i) => g === sent[i]) }));
        };
        ws.onclose = (e) => reject(new Error("closed early: " + e.code + " " + e.reason));
      })`),
      );
      assert.deepEqual(deflated, {
        ext: "permessage-deflate; server_no_context_takeover",
        same: true,
      });
    } catch (err) {
      Deno.stderr.writeSync(new TextEncoder().encode(`chromium log:\n${browser.log()}\n`));
      throw err;
    } finally {
      await browser.close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
