/**
 * Unit tests of `bench/lib/wrk.ts`: undoing wrk's coordinated-omission correction must give back
 * exactly the histogram wrk recorded, and percentiles must follow wrk's own definition.
 * `stats_correct` below is a line-by-line port of wrk 4.1's `src/stats.c`.
 */
import assert from "node:assert/strict";
import {
  type Histogram,
  histogramStats,
  parseHistogram,
  uncorrectHistogram,
  wrkCorrectionInterval,
} from "../../bench/lib/wrk.ts";

/** wrk's stats_correct: for n >= 2e, add data[n] at n-e, n-2e, ... while above e. */
function statsCorrect(h: Histogram, expected: number): Histogram {
  const max = Math.max(...h.keys());
  const data = new Map(h);
  for (let n = expected * 2; n <= max; n++) {
    const count = data.get(n) ?? 0;
    let m = n - expected;
    while (count && m > expected) {
      data.set(m, (data.get(m) ?? 0) + count);
      m -= expected;
    }
  }
  return data;
}

function randomHistogram(seed: number, samples: number, lo: number, hi: number): Histogram {
  let x = seed;
  const rand = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  const h: Histogram = new Map();
  for (let i = 0; i < samples; i++) {
    // mostly fast, with a long tail
    const v = Math.floor(lo + (hi - lo) * rand() ** 4);
    h.set(v, (h.get(v) ?? 0) + 1);
  }
  return h;
}

Deno.test("uncorrectHistogram inverts wrk's stats_correct exactly", () => {
  for (const [seed, e, lo, hi] of [[1, 1800, 150, 40_000], [7, 1200, 9000, 150_000]]) {
    const original = randomHistogram(seed, 20_000, lo, hi);
    const corrected = statsCorrect(original, e);
    assert.notDeepEqual(corrected, original);
    assert.deepEqual(uncorrectHistogram(corrected, e), original);
  }
});

Deno.test("uncorrectHistogram leaves a histogram wrk did not touch alone", () => {
  const h: Histogram = new Map([[100, 3], [150, 1]]);
  assert.deepEqual(uncorrectHistogram(h, 1000), h);
  assert.deepEqual(uncorrectHistogram(h, Infinity), h);
});

Deno.test("histogramStats uses wrk's percentile rank and reports milliseconds", () => {
  // rank = round(p% * count + 0.5): 50.5 -> 51, 90.5 -> 91, 99.5 -> 100 (of 100 samples)
  const h = parseHistogram("1000:60,2000:39,9000:1")!;
  const s = histogramStats(h);
  assert.equal(s.samples, 100);
  assert.equal(s.p50, 1);
  assert.equal(s.p90, 2);
  assert.equal(s.p99, 9);
  assert.equal(s.max, 9);
  assert.equal(parseHistogram("unavailable"), null);
});

Deno.test("wrkCorrectionInterval uses wrk's integer maths", () => {
  assert.equal(wrkCorrectionInterval(10_003_000, 500_000, 64), Math.floor(10_003_000 / 7812));
  assert.equal(wrkCorrectionInterval(1_000_000, 10, 64), Infinity);
});
