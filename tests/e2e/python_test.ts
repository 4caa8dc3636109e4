// Real client: Python's http.client against lsbaws (keep-alive reuse, chunked uploads with
// encode_chunked=True, HEAD, Expect: 100-continue) plus an HTTP/1.0 exchange over a raw Python
// socket. Skipped with a reason when python3 is missing.
import assert from "node:assert/strict";
import { startApp } from "../_support/server.ts";

function hasPython(): boolean {
  try {
    return new Deno.Command("python3", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const PYTHON = hasPython();
if (!PYTHON) {
  Deno.stderr.writeSync(
    new TextEncoder().encode("python_test: skipped, python3 is not installed\n"),
  );
}

/** The client script: runs every check and prints one JSON object. */
const SCRIPT = String.raw`
import http.client, json, socket, sys

port = int(sys.argv[1])
out = {}

# Keep-alive: three requests on one HTTPConnection, one TCP connection.
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.request("GET", "/")
r = conn.getresponse()
out["get"] = [r.status, r.getheader("Content-Length"), r.read().decode()]
first_port = conn.sock.getsockname()[1]
conn.request("POST", "/echo", body=b"py body", headers={"Content-Type": "text/plain"})
r = conn.getresponse()
out["post"] = [r.status, r.read().decode()]

# Chunked upload with encode_chunked=True (a generator body has no length).
def gen():
    for i in range(100):
        yield (("%03d:" % i) + "x" * 1000 + "\n").encode()
conn.request("POST", "/echo", body=gen(), encode_chunked=True,
             headers={"Transfer-Encoding": "chunked"})
r = conn.getresponse()
body = r.read()
out["chunked"] = [r.status, len(body), body[:5].decode(), body[-6:].decode()]

# HEAD: headers only, same connection.
conn.request("HEAD", "/")
r = conn.getresponse()
out["head"] = [r.status, r.getheader("Content-Length"), r.read().decode()]
out["same_connection"] = conn.sock is not None and conn.sock.getsockname()[1] == first_port

# Expect: 100-continue, answered before the body is sent.
conn.putrequest("POST", "/echo")
conn.putheader("Content-Length", "11")
conn.putheader("Expect", "100-continue")
conn.endheaders()
conn.sock.settimeout(5)
interim = conn.sock.recv(64).decode("latin-1")
out["continue"] = interim.split("\r\n")[0]
conn.send(b"hello again")
r = conn.getresponse()
out["after_continue"] = [r.status, r.read().decode()]
conn.close()

# HTTP/1.0 over a raw socket: the server answers and closes.
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
s.close()
head, _, rest = data.partition(b"\r\n\r\n")
lines = head.decode("latin-1").split("\r\n")
out["http10"] = [lines[0], rest.decode(), [l for l in lines if l.lower().startswith("connection:")]]

print(json.dumps(out))
`;

Deno.test({
  name: "python http.client: keep-alive, chunked upload, HEAD, 100-continue, HTTP/1.0",
  ignore: !PYTHON,
  async fn() {
    const s = await startApp("apps/echo.ts");
    try {
      const out = await new Deno.Command("python3", {
        args: ["-c", SCRIPT, String(s.port)],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const r = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.deepEqual(r.get, [200, "5", "Hello"]);
      assert.deepEqual(r.post, [200, "py body"]);
      assert.deepEqual(r.chunked, [200, 100 * 1005, "000:x", "xxxxx\n"]);
      assert.deepEqual(r.head, [200, "5", ""]);
      assert.equal(r.same_connection, true);
      assert.equal(r.continue, "HTTP/1.1 100 Continue");
      assert.deepEqual(r.after_continue, [200, "hello again"]);
      assert.equal(r.http10[0], "HTTP/1.1 200 OK");
      assert.equal(r.http10[1], "Hello");
      assert.deepEqual(r.http10[2].map((l: string) => l.toLowerCase()), ["connection: close"]);
    } finally {
      await s.close();
    }
  },
});
