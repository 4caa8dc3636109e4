/**
 * The HTTP date format: `httpDate(ms)` formats milliseconds since the epoch as an IMF-fixdate
 * (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, for the Date header and file
 * validators. Pure and synchronous.
 */

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/**
 * Formats `ms` since the epoch as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. Integer
 * arithmetic, no `Date`: a server that logs nothing then never runs V8's date code, whose pages
 * stay out of its memory (~0.4 MiB of the `deno` binary, `bench/RESULTS.md`).
 */
export function httpDate(ms: number): string {
  const secs = Math.floor(ms / 1000);
  const days = Math.floor(secs / 86400);
  const t = secs - days * 86400;
  // Gregorian date from a day count (H. Hinnant's civil_from_days), in integers.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) -
      Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 2 : mp - 10;
  const year = yoe + era * 400 + (month <= 1 ? 1 : 0);
  const weekday = (((days + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
  return `${DAYS[weekday]}, ${pad2(day)} ${MONTHS[month]} ${year} ${pad2(Math.floor(t / 3600))}:${
    pad2(Math.floor(t / 60) % 60)
  }:${pad2(t % 60)} GMT`;
}
