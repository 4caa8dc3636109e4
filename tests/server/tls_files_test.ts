/**
 * `--keyfile-password` (`server/tls_files.ts`): keys encrypted by openssl in the forms it writes
 * (PKCS#8 with AES, traditional PEM with AES, PKCS#8 with 3DES) read with the right password,
 * refused with a message saying what to do otherwise; and real processes serving HTTPS with an
 * encrypted key (the password from the variable with one worker, from the flag with two), a
 * wrong password as exit 3, `--check-config`, and the password kept out of `--print-config`
 * (hup_config_test: out of the HUP change line). Needs openssl (and curl for HTTPS); elsewhere
 * the tests skip and say why.
 */
import assert from "node:assert/strict";
import { isEncryptedKey, readTlsPair, TlsKeyError } from "../../server/tls_files.ts";
import { checkTlsPair } from "../../server/deno/listen.ts";
import { startLsbaws } from "../_support/proc.ts";
import { hasOpenssl, makeCert } from "../_support/tls.ts";

const PASSWORD = "correct horse";
const APP = "tests/fixtures/apps/ops.ts:app";

const hasCurl = (() => {
  try {
    return new Deno.Command("curl", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
const SKIPPED = !hasOpenssl
  ? "every test that makes a key is skipped: needs openssl"
  : !hasCurl
  ? "the HTTPS test is skipped: needs curl"
  : null;
if (SKIPPED) Deno.stderr.writeSync(new TextEncoder().encode(`tls_files_test: ${SKIPPED}\n`));

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
    .output();
  assert.ok(out.success, `openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A certificate, its plain key and the key encrypted in three ways, in a new directory. */
async function keys() {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-tlskey-" });
  const { cert, key } = await makeCert(dir);
  const pass = ["-passout", `pass:${PASSWORD}`];
  const aes = `${dir}/aes.key`;
  await openssl(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", key, "-out", aes, ...pass]);
  const traditional = `${dir}/traditional.key`;
  await openssl(["rsa", "-aes128", "-traditional", "-in", key, "-out", traditional, ...pass]);
  const des3 = `${dir}/des3.key`;
  await openssl(["pkcs8", "-topk8", "-v2", "des3", "-in", key, "-out", des3, ...pass]);
  return { dir, cert, key, aes, traditional, des3 };
}

Deno.test("isEncryptedKey: PKCS#8 and traditional PEM headers", () => {
  assert.equal(isEncryptedKey("-----BEGIN PRIVATE KEY-----\nAAAA\n"), false);
  assert.equal(isEncryptedKey("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"), false);
  assert.equal(isEncryptedKey("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"), true);
  assert.equal(
    isEncryptedKey(
      "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAA\n",
    ),
    true,
  );
});

Deno.test({
  name: "readTlsPair: encrypted keys decrypt with the password and serve; errors say what to do",
  ignore: !hasOpenssl,
  async fn() {
    const k = await keys();
    try {
      const plain = await Deno.readTextFile(k.key);
      assert.equal((await readTlsPair(k.cert, k.key, "")).key, plain, "a plain key as read");
      assert.equal((await readTlsPair(k.cert, k.key, "ignored")).key, plain);
      for (const file of [k.aes, k.traditional]) {
        assert.ok(isEncryptedKey(await Deno.readTextFile(file)), file);
        const pair = await readTlsPair(k.cert, file, PASSWORD);
        assert.match(pair.key, /^-----BEGIN PRIVATE KEY-----\n/, file);
        checkTlsPair(pair.cert, pair.key); // Deno's listener takes it
        await assert.rejects(readTlsPair(k.cert, file, ""), (err: unknown) => {
          assert.ok(err instanceof TlsKeyError);
          assert.match(err.message, /is encrypted: give its passphrase with --keyfile-password/);
          return true;
        });
        await assert.rejects(
          readTlsPair(k.cert, file, "wrong"),
          /cannot decrypt .*: wrong --keyfile-password/,
        );
      }
      await assert.rejects(
        readTlsPair(k.cert, k.des3, PASSWORD),
        /cannot decrypt .*des3\.key.*re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc/,
      );
      await assert.rejects(readTlsPair(k.cert, `${k.dir}/missing.key`, ""), Deno.errors.NotFound);
    } finally {
      await Deno.remove(k.dir, { recursive: true });
    }
  },
});

async function curl(cacert: string, url: string): Promise<number> {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "-o",
      "/dev/null",
      "--max-time",
      "10",
      "--cacert",
      cacert,
      "-w",
      "%{http_code}",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return Number(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name:
    "HTTPS with an encrypted --keyfile: LSBAWS_KEYFILE_PASSWORD with -w 1, --keyfile-password with -w 2",
  ignore: !hasOpenssl || !hasCurl,
  async fn() {
    const k = await keys();
    try {
      const one = await startLsbaws(["-p", "0", "--certfile", k.cert, "--keyfile", k.aes, APP], {
        env: { LSBAWS_KEYFILE_PASSWORD: PASSWORD },
      });
      try {
        assert.equal(await curl(k.cert, `https://localhost:${one.port()}/`), 200);
      } finally {
        await one.stop();
      }
      const two = await startLsbaws([
        "-w",
        "2",
        "-p",
        "0",
        "--certfile",
        k.cert,
        "--keyfile",
        k.traditional,
        "--keyfile-password",
        PASSWORD,
        APP,
      ]);
      try {
        await two.waitFor(() => two.workers().length === 2, "2 workers");
        assert.equal(await curl(k.cert, `https://localhost:${two.port()}/`), 200);
      } finally {
        await two.stop();
      }
    } finally {
      await Deno.remove(k.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "an encrypted --keyfile without its password or with a wrong one is exit 3 naming the fix",
  ignore: !hasOpenssl,
  async fn() {
    const k = await keys();
    try {
      for (
        const [extra, message] of [
          [[], /cannot use --keyfile: .*aes\.key is encrypted: give its passphrase/],
          [["--keyfile-password", "wrong"], /cannot use --keyfile: .*wrong --keyfile-password/],
        ] as const
      ) {
        const p = await startLsbaws(
          ["-p", "0", "--certfile", k.cert, "--keyfile", k.aes, ...extra, APP],
          { waitListening: false },
        );
        const status = await p.status;
        await p.stop();
        assert.equal(status.code, 3, p.err.join("\n"));
        assert.match(p.err.join("\n"), message);
      }
    } finally {
      await Deno.remove(k.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "--check-config decrypts the key; --print-config shows only that a password is set",
  ignore: !hasOpenssl,
  async fn() {
    const k = await keys();
    const run = async (args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--unstable-net", "-A", "main.ts", ...args],
        cwd: new URL("../../", import.meta.url).pathname,
        env: { NO_COLOR: "1", LSBAWS_KEYFILE_PASSWORD: PASSWORD },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const d = new TextDecoder();
      return { code: out.code, text: d.decode(out.stdout) + d.decode(out.stderr) };
    };
    try {
      const tls = ["--certfile", k.cert, "--keyfile", k.aes];
      const ok = await run([...tls, "--check-config", APP]);
      assert.equal(ok.code, 0, ok.text);
      assert.match(ok.text, /configuration OK/);
      const printed = await run([...tls, "--print-config", APP]);
      assert.equal(printed.code, 0, printed.text);
      assert.match(
        printed.text,
        /"keyfilePassword": "<hidden>",\s+\/\/ env LSBAWS_KEYFILE_PASSWORD/,
      );
      assert.ok(!printed.text.includes(PASSWORD), "the password is not printed");
    } finally {
      await Deno.remove(k.dir, { recursive: true });
    }
  },
});
