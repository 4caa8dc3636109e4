/**
 * The TLS certificate chain and private key a server listens with, read from `--certfile` and
 * `--keyfile`, the key decrypted with `--keyfile-password` when it is encrypted.
 *
 * Contract:
 * - `readTlsPair(certfile, keyfile, password)` reads both files (their errors propagate as
 *   thrown) and returns the PEM texts Deno's TLS listener takes. A key that is not encrypted is
 *   returned as read, whatever the password.
 * - An encrypted key (`BEGIN ENCRYPTED PRIVATE KEY`, PKCS#8, or a traditional PEM key with
 *   `Proc-Type: 4,ENCRYPTED`) is decrypted with the password through `node:crypto` (loaded only
 *   then) and returned as unencrypted PKCS#8 PEM, which lives only in this process's memory.
 * - `TlsKeyError` says what is wrong in words an operator can act on: an encrypted key without
 *   a password, a wrong password, or a cipher Deno cannot decrypt (it reads keys encrypted with
 *   AES; the message gives the `openssl` command that re-encrypts one).
 */

/** The key cannot be used as given; the message says why and what to do. */
export class TlsKeyError extends Error {
  /** Creates the error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "TlsKeyError";
  }
}

/** Whether a PEM private key is encrypted (PKCS#8 or a traditional PEM header). */
export function isEncryptedKey(pem: string): boolean {
  return pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
    /^Proc-Type:\s*4,\s*ENCRYPTED\s*$/m.test(pem);
}

/** Reads the certificate chain and the key; see the module comment. */
export async function readTlsPair(
  certfile: string,
  keyfile: string,
  password: string,
): Promise<{ cert: string; key: string }> {
  const cert = await Deno.readTextFile(certfile);
  const key = await Deno.readTextFile(keyfile);
  if (!isEncryptedKey(key)) return { cert, key };
  if (password === "") {
    throw new TlsKeyError(
      `${keyfile} is encrypted: give its passphrase with --keyfile-password or ` +
        "LSBAWS_KEYFILE_PASSWORD",
    );
  }
  return { cert, key: await decryptKey(key, password, keyfile) };
}

async function decryptKey(pem: string, passphrase: string, keyfile: string): Promise<string> {
  const { createPrivateKey } = await import("node:crypto");
  try {
    return createPrivateKey({ key: pem, format: "pem", passphrase })
      .export({ type: "pkcs8", format: "pem" }) as string;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (/bad decrypt/i.test(why)) {
      throw new TlsKeyError(`cannot decrypt ${keyfile}: wrong --keyfile-password (${why})`);
    }
    throw new TlsKeyError(
      `cannot decrypt ${keyfile} (${why}); keys encrypted with AES can be read: re-encrypt it ` +
        "with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD.key -out NEW.key`",
    );
  }
}
