/**
 * The floor probe of the libc backend, for the keep-alive analysis in bench/RESULTS.md: the
 * `--io libc` design reduced to nothing but its syscalls. One nonblocking listening socket, one
 * level-triggered epoll instance polled with synchronous FFI calls while there is work (the
 * threaded `epoll_wait` only when a poll found nothing), and per readable connection one `recv`
 * and one `send` of a fixed hello response. It parses nothing (it answers every read, so it is
 * only correct for one request per read, as wrk sends them without pipelining), has no timers,
 * no limits and no app; it is not a server and not part of the benchmark table. It shows what a
 * request costs on this machine when the only work is the FFI calls and the kernel's.
 *
 * Usage: `deno run -A bench/apps/raw_libc.ts [--port N]` (default 18600), then e.g.
 * `taskset -c 1 …` for it and `taskset -c 0 wrk -t1 -c64 -d3s http://127.0.0.1:N/`.
 */
// deno-lint-ignore-file no-console
import {
  EPOLL_CTL_ADD,
  EPOLL_DATA_OFFSET,
  EPOLL_EVENT_BYTES,
  EPOLLIN,
  IPPROTO_TCP,
  loadLibc,
  MSG_NOSIGNAL,
  SO_REUSEADDR,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../../server/libc/ffi.ts";
import { encodeSockaddr } from "../../server/libc/sockaddr.ts";

const i = Deno.args.indexOf("--port");
const port = i >= 0 ? Number(Deno.args[i + 1]) : 18600;
const loaded = loadLibc();
if (!loaded.ok) throw new Error(`libc unavailable: ${loaded.reason}`);
const { sym } = loaded.libc;

const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!",
);
const ONE = new Uint8Array(new Int32Array([1]).buffer);
const MAX_EVENTS = 256;

const addr = encodeSockaddr({ transport: "tcp", hostname: "127.0.0.1", port });
const lfd = sym.socket(addr.family, SOCK_STREAM | SOCK_NONBLOCK, 0);
sym.setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, ONE, 4);
if (sym.bind(lfd, addr.bytes, addr.length) !== 0 || sym.listen(lfd, 1024) !== 0) {
  throw new Error(`cannot listen on 127.0.0.1:${port}`);
}
const ep = sym.epoll_create1(0);
const ctl = new Uint8Array(EPOLL_EVENT_BYTES);
const ctlView = new DataView(ctl.buffer);
function watch(fd: number): void {
  ctlView.setUint32(0, EPOLLIN, true);
  ctlView.setUint32(EPOLL_DATA_OFFSET, fd, true);
  sym.epoll_ctl(ep, EPOLL_CTL_ADD, fd, ctl);
}
watch(lfd);

const buf = new Uint8Array(16384);
const BUF_LEN = BigInt(buf.length);
const RESPONSE_LEN = BigInt(RESPONSE.length);
const peer = new Uint8Array(128);
const peerLen = new Uint32Array(1);
const peerLenBytes = new Uint8Array(peerLen.buffer);
const events = new Uint8Array(MAX_EVENTS * EPOLL_EVENT_BYTES);
const view = new DataView(events.buffer);
const parkEvents = new Uint8Array(EPOLL_EVENT_BYTES); // only the threaded wait writes here
const channel = new MessageChannel();
const yieldToEventLoop = () =>
  new Promise<void>((resolve) => {
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(0);
  });

console.log(`raw libc loop listening on http://127.0.0.1:${port}`);
for (let turns = 1;; turns++) {
  const n = sym.epoll_wait(ep, events, MAX_EVENTS, 0);
  if (n <= 0) {
    await sym.epoll_wait_nb(ep, parkEvents, 1, 1000); // idle: park, then poll again
    continue;
  }
  for (let k = 0; k < n; k++) {
    const fd = view.getUint32(k * EPOLL_EVENT_BYTES + EPOLL_DATA_OFFSET, true);
    if (fd === lfd) {
      for (;;) {
        peerLen[0] = peer.length;
        const c = sym.accept4(lfd, peer, peerLenBytes, SOCK_NONBLOCK);
        if (c < 0) break;
        sym.setsockopt(c, IPPROTO_TCP, TCP_NODELAY, ONE, 4);
        watch(c);
      }
      continue;
    }
    const got = sym.recv(fd, buf, BUF_LEN, 0);
    if (got > 0) sym.send(fd, RESPONSE, RESPONSE_LEN, MSG_NOSIGNAL);
    else if (got === 0) sym.close(fd);
  }
  if (turns % 8 === 0) await yieldToEventLoop(); // as the real loop does, let timers run
}
