/**
 * The CI-sized PROXY protocol fuzz run: 1,500 generated connection openings (tests/fuzz/proxy_*.ts:
 * v1 and v2 headers, valid and damaged, or none, before `GET /env` requests) against lsbaws
 * serving tests/fixtures/apps/ops.ts with `--proxy-protocol auto`, once trusting loopback to send
 * headers and once not, per socket backend (`$LSBAWS_TEST_IO` alone when set; libc only where it
 * loads). Each run must end clean: the processes alive, every oracle held (exactly one 400 or 403
 * and the close for a refused opening, never a 200; the header's client, or the socket's, in
 * REMOTE_ADDR/REMOTE_PORT of every request served; nothing but a 408 for an unfinished header,
 * nothing at all for a header alone), a fresh header and request still served, the fd counts back to their baselines, nothing uncaught
 * in stderr. The seed is fixed (1) unless `$LSBAWS_FUZZ_SEED` sets one; `deno task fuzz --mode
 * proxy` is the long run. The per-backend tests and the clean-run checks are tests/fuzz/ci.ts's.
 * The generator's determinism and coverage, its reference model against hand-checked headers,
 * and the oracle's strictness (one verdict per case, no tolerated departure) are checked here too.
 */
import assert from "node:assert/strict";
import { formatProxySummary, judgeProxy, runProxyFuzz } from "../fuzz/proxy_runner.ts";
import {
  decodeHeader,
  generateProxyCase,
  healthCase,
  looksLikeHeader,
  PROXY_KINDS,
  PROXY_MAX_BYTES,
  verdictName,
} from "../fuzz/proxy_generator.ts";
import { assertCleanRun, CI_SEED, testEachBackend } from "../fuzz/ci.ts";

testEachBackend("proxy fuzz: 1,500 connection openings leave both servers clean", async (io) => {
  const summary = await runProxyFuzz({ cases: 1500, seed: CI_SEED, io, timeLimitMs: 60_000 });
  const text = formatProxySummary(summary);
  assertCleanRun(summary, text, 1000);
  for (
    const v of [
      "trusted refused:400",
      "trusted served:idle",
      "trusted pending",
      "untrusted refused:403",
      "untrusted served:idle",
    ]
  ) {
    assert.ok((summary.verdicts[v] ?? 0) >= 20, `few "${v}" verdicts:\n${text}`);
  }
});

Deno.test("proxy fuzz generator: a case depends only on (seed, id); kinds, verdicts and shapes covered", () => {
  assert.deepEqual(generateProxyCase(7, 123), generateProxyCase(7, 123));
  const kinds = new Set<string>();
  const seen = new Set<string>();
  let differ = 0;
  for (let id = 0; id < 3000; id++) {
    const c = generateProxyCase(1, id);
    kinds.add(c.kind);
    seen.add(`${c.server} ${verdictName(c.verdict)}`).add(c.delivery).add(c.ending);
    assert.equal(c.server, id % 2 === 0 ? "trusted" : "untrusted");
    if (c.delivery === "split") {
      assert.ok(c.cuts.length > 0 && c.cuts.every((x) => x > 0 && x < c.bytes.length));
    }
    // A valid header decodes to the client it was built to carry.
    if (c.built !== undefined && c.server === "trusted") {
      const v = c.verdict;
      assert.equal(v.kind, "served", `${c.desc}: ${JSON.stringify(v)}`);
      if (v.kind === "served") {
        assert.deepEqual(v.base, c.built ?? { addr: "127.0.0.1", port: null }, c.desc);
      }
    }
    const other = generateProxyCase(3, id).bytes;
    if (other.length !== c.bytes.length || other.some((x, i) => x !== c.bytes[i])) differ++;
  }
  assert.ok(differ > 2700, `seeds 1 and 3 share ${3000 - differ} of 3000 cases`);
  assert.deepEqual([...kinds].sort(), [...PROXY_KINDS].sort());
  for (
    const s of [
      "trusted refused:400",
      "trusted served:idle",
      "trusted served:partial",
      "trusted served:error",
      "trusted served:unknown",
      "trusted pending",
      "trusted pending-or-400",
      "untrusted refused:403",
      "untrusted served:idle",
      "untrusted served:partial",
      "untrusted served:unknown",
      "untrusted pending",
      "whole",
      "split",
      "bytewise",
      "halfclose",
      "close",
      "reset",
      "wait",
    ]
  ) {
    assert.ok(seen.has(s), `never generated: ${s}`);
  }
});

Deno.test("proxy fuzz reference model: hand-checked headers", () => {
  const b = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const sig = "\r\n\r\n\0\r\nQUIT\n";
  const v2 = (cmd: number, fam: number, block: number[]) =>
    b(sig + String.fromCharCode(cmd, fam, block.length >> 8, block.length & 0xff, ...block));
  const inet = [192, 0, 2, 1, 10, 0, 0, 1, 0x1f, 0x90, 0, 80];
  const cases: Array<[Uint8Array, string]> = [
    [b("PROXY TCP4 192.0.2.1 10.0.0.1 8080 80\r\n"), "header 192.0.2.1:8080"],
    [b("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 2\r\n"), "header 2001:db8::1:1"],
    [b("PROXY TCP6 ::FFFF:10.1.2.3 ::1 0 65535\r\n"), "header ::ffff:10.1.2.3:0"],
    [b("PROXY TCP6 1:0:0:2:0:0:0:3 ::1 1 2\r\n"), "header 1:0:0:2::3:1"],
    [b("PROXY UNKNOWN whatever\r\n"), "header none"],
    [b(`PROXY UNKNOWN ${"x".repeat(91)}\r\n`), "header none"], // 107 bytes
    [b(`PROXY UNKNOWN ${"x".repeat(92)}\r\n`), "invalid"], // 108 bytes
    [b("PROXY TCP4 192.0.2.01 10.0.0.1 1 2\r\n"), "invalid"],
    [b("PROXY TCP4 192.0.2.1 10.0.0.1 01 2\r\n"), "invalid"],
    [b("PROXY TCP4 192.0.2.1 10.0.0.1 65536 2\r\n"), "invalid"],
    [b("PROXY TCP4 192.0.2.1  10.0.0.1 1 2\r\n"), "invalid"],
    [b("PROXY TCP6 1.2.3.4::5 ::1 1 2\r\n"), "invalid"], // a dotted quad only as the last 32 bits
    [b("PROXY TCP6 1.2.3.4:: ::1 1 2\r\n"), "invalid"],
    [b("PROXY TCP6 1:2:1.2.3.4::5 ::1 1 2\r\n"), "invalid"],
    [b("PROXY TCP6 ::1.2.3.4:5 ::1 1 2\r\n"), "invalid"],
    [b("PROXY TCP6 1:2:3:4:5:6:7:1.2.3.4 ::1 1 2\r\n"), "invalid"],
    [b("PROXY TCP6 ::1.2.3.4 ::1 1 2\r\n"), "header ::102:304:1"],
    [b("PROXY TCP6 1::1.2.3.4 ::1 1 2\r\n"), "header 1::102:304:1"],
    [b("PROXY TCP6 1:2:3:4:5:6:1.2.3.4 ::1 1 2\r\n"), "header 1:2:3:4:5:6:102:304:1"],
    [b("PROXY TCP6 fe80::1%1 ::1 1 2\r\n"), "invalid"],
    [b("PROXY TCP4 192.0.2.1 10.0.0.1 1 2\n"), "invalid"],
    [b("PROXY TCP4 192.0\t"), "invalid"],
    [b("PROXY TCP4 192.0"), "unfinished"],
    [b("PROX"), "unfinished"],
    [b("GET / HTTP/1.1\r\n"), "missing"],
    [v2(0x21, 0x11, inet), "header 192.0.2.1:8080"],
    [v2(0x21, 0x11, inet.slice(0, 11)), "invalid"],
    [v2(0x21, 0x12, inet), "invalid"], // PROXY over DGRAM
    [v2(0x20, 0x12, inet), "header none"], // LOCAL over DGRAM
    [v2(0x20, 0x40, []), "header none"], // LOCAL: any family and transport, unknown ones too
    [v2(0x20, 0xff, inet), "header none"],
    [v2(0x20, 0x13, []), "header none"],
    [v2(0x21, 0x41, inet), "invalid"], // PROXY: unknown family
    [v2(0x21, 0x13, inet), "invalid"], // PROXY: unknown transport
    [v2(0x22, 0x11, inet), "invalid"],
    [v2(0x11, 0x11, inet), "invalid"],
    [v2(0x21, 0x10, []), "header none"], // INET over UNSPEC transport: no addresses needed
    [v2(0x21, 0x11, inet).subarray(0, 20), "unfinished"],
    [b(sig + "\x21\x11\x3f\xf1"), "invalid"], // 16 + 0x3ff1 > PROXY_MAX_BYTES
    [b(sig + "\x20\xff\x3f\xf1"), "invalid"], // LOCAL too
  ];
  assert.equal(PROXY_MAX_BYTES, 16384);
  for (const [bytes, want] of cases) {
    const d = decodeHeader(bytes);
    const got = d.kind !== "header"
      ? d.kind
      : `header ${d.source === null ? "none" : `${d.source.addr}:${d.source.port}`}`;
    assert.equal(got, want, JSON.stringify(String.fromCharCode(...bytes)));
  }
  assert.equal(looksLikeHeader(b("PROXY ")), true);
  assert.equal(looksLikeHeader(b("PROXY")), null);
  assert.equal(looksLikeHeader(b("")), null);
  assert.equal(looksLikeHeader(b(sig.slice(0, 11))), null);
  assert.equal(looksLikeHeader(b(sig)), true);
  assert.equal(looksLikeHeader(b("PROXGET")), false);
  assert.equal(looksLikeHeader(b("\r\n\r\nGET")), false);
});

Deno.test("proxy fuzz oracle: one strict verdict per case", () => {
  // The cases that once found server bugs now expect the contract's verdict and nothing else.
  let local = 0, dotted = 0;
  for (let id = 0; id < 40_000; id += 2) {
    const c = generateProxyCase(1, id);
    assert.deepEqual(Object.keys(c).filter((k) => k === "alt" || k === "issue"), []);
    if (c.kind === "v2-fields" && /^v2 LOCAL 0x[0-9a-f]{2} (?:family|transport)$/.test(c.desc)) {
      local++;
      assert.equal(c.verdict.kind, "served", `#${id} ${c.desc}`);
    }
    const line = String.fromCharCode(...c.bytes.subarray(0, c.preambleBytes));
    const m = /^PROXY TCP6 (\S+) (\S+) \d+ \d+\r\n$/.exec(line);
    if (c.kind === "v1-fields" && m && /(?:^|:)\d+\.\d+\.\d+\.\d+::/.test(m[1] + " " + m[2])) {
      dotted++;
      assert.deepEqual(c.verdict, { kind: "refused", status: 400 }, `#${id} ${line}`);
    }
  }
  assert.ok(
    local >= 5 && dotted >= 5,
    `LOCAL with unknown nibbles: ${local}, dotted quads: ${dotted}`,
  );

  // A header alone is an idle connection: nothing is answered, and it is closed.
  const base = healthCase("trusted");
  const alone = {
    ...base,
    bytes: base.bytes.subarray(0, base.preambleBytes),
    requests: 0,
    ending: "wait" as const,
    verdict: { ...base.verdict, clients: [] },
  };
  const r408 = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  const o = { text: "", closed: true, timedOut: false, closeMs: 3000 };
  assert.deepEqual(judgeProxy(alone, o).problems, []);
  assert.equal(judgeProxy(alone, { ...o, text: r408 }).problems.length, 1);
  assert.equal(judgeProxy(alone, { ...o, closed: false, closeMs: -1 }).problems.length, 1);
});
