/**
 * Test support: collects what a server sends to a datagram socket the test bound (StatsD, syslog).
 *
 * Contract: `collectDatagrams(sock, until, into?)` receives on `sock` until `until` resolves and
 * a last 300 ms have passed (late sends of a process that is stopping), then closes `sock` and
 * resolves with every datagram received, decoded as UTF-8, in order. Each datagram is appended to
 * `into` (the array returned) as it arrives, so a test can watch them while they come.
 */

/** Every datagram received on `sock` until `until` resolves (then a last 300 ms). */
export async function collectDatagrams(
  sock: Deno.DatagramConn,
  until: Promise<unknown>,
  into: string[] = [],
): Promise<string[]> {
  const datagrams = into;
  let done = false;
  until.then(() => setTimeout(() => (done = true, sock.close()), 300));
  while (!done) {
    try {
      const [buf] = await sock.receive();
      datagrams.push(new TextDecoder().decode(buf));
    } catch {
      break; // closed
    }
  }
  return datagrams;
}
