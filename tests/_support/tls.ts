/**
 * Test support: self-signed certificates made with openssl for the TLS tests.
 *
 * Contract: `makeCert(dir, name?)` writes `<name>.pem` and `<name>.key` (default name `cert`)
 * into `dir`: a 2048-bit RSA key and a certificate for `localhost` and 127.0.0.1, valid two days;
 * it fails the test with openssl's message if openssl fails. `hasOpenssl` says whether openssl
 * can be run at all (callers print why they skip).
 */
import assert from "node:assert/strict";

/** Whether `openssl` can be run here. */
export const hasOpenssl: boolean = (() => {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** Makes a self-signed certificate and key in `dir`; see the module comment. */
export async function makeCert(
  dir: string,
  name = "cert",
): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/${name}.pem`;
  const key = `${dir}/${name}.key`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return { cert, key };
}
