import { describe, expect, it } from 'vitest';
import { formatDuration, RateWindow, renderProgressBar } from '../../src/cli/tail-progress.js';

describe('renderProgressBar', () => {
  it('shows percent, counts, rate and ETA with a bar filled in proportion', () => {
    const line = renderProgressBar({ counts: { total: 1000, succeeded: 440, failed: 10, pending: 550 }, rate: 7.5 }, 120);
    expect(line).toBe(`[${'#'.repeat(18)}${'.'.repeat(22)}]   45%  450/1000  ok 440  failed 10  7.5 res/s  ETA 1:13`);
    expect(renderProgressBar({ counts: { total: 1000, succeeded: 440, failed: 10, pending: 550 }, rate: 12.5 }, 120)).toMatch(
      / 13 res\/s {2}ETA 44s$/,
    );
  });

  it('never reaches the last column, so a terminal does not wrap it', () => {
    for (const columns of [20, 40, 60, 80, 200]) {
      const line = renderProgressBar(
        { counts: { total: 100_000, succeeded: 51_234, failed: 1_234, pending: 47_532 }, rate: 1234.4 },
        columns,
      );
      expect(line.length).toBeLessThanOrEqual(columns - 1);
      expect(line.startsWith('[')).toBe(true);
    }
    expect(renderProgressBar({ counts: { total: 10, succeeded: 5, failed: 0, pending: 5 }, rate: 1 }, 200)).toMatch(/^\[#{20}\.{20}\] /);
  });

  it('says what it does not know: no rate yet, no ETA while nothing moves', () => {
    expect(renderProgressBar({ counts: { total: 10, succeeded: 0, failed: 0, pending: 10 } }, 100)).toMatch(
      / {3}0% {2}0\/10 {2}ok 0 {2}failed 0 {2}- res\/s {2}ETA \?$/,
    );
    expect(renderProgressBar({ counts: { total: 10, succeeded: 4, failed: 0, pending: 6 }, rate: 0 }, 100)).toMatch(
      /0\.0 res\/s {2}ETA \?$/,
    );
    expect(renderProgressBar({ counts: { total: 10, succeeded: 9, failed: 1, pending: 0 }, rate: 3 }, 100)).toMatch(
      /^\[#+\] {2}100% .*ETA 0s$/,
    );
    expect(renderProgressBar({ counts: { total: 0, succeeded: 0, failed: 0, pending: 0 } }, 100)).toMatch(/^\[\.+\] {4}0%/);
  });
});

describe('formatDuration', () => {
  it('is short', () => {
    expect(formatDuration(9.4)).toBe('9s');
    expect(formatDuration(309)).toBe('5:09');
    expect(formatDuration(3909)).toBe('1:05:09');
    expect(formatDuration(-3)).toBe('0s');
  });
});

describe('RateWindow', () => {
  it('measures the recent rate, not the average since the start', () => {
    const w = new RateWindow(10_000);
    expect(w.rate(0)).toBeUndefined();
    w.add(0, 0);
    expect(w.rate(1_000)).toBeUndefined();
    // 100/s for 20 s, then 10/s for 10 s: the last 10 s say 10/s.
    for (let s = 1; s <= 20; s++) w.add(s * 1000, s * 100);
    expect(w.rate(20_000)).toBeCloseTo(100);
    for (let s = 21; s <= 30; s++) w.add(s * 1000, 2000 + (s - 20) * 10);
    expect(w.rate(30_000)).toBeCloseTo(10);
  });

  it('falls while nothing settles, and keeps few samples', () => {
    const w = new RateWindow(10_000);
    w.add(0, 0);
    w.add(1_000, 50);
    expect(w.rate(1_000)).toBeCloseTo(50);
    expect(w.rate(5_000)).toBeCloseTo(10);
    expect(w.rate(60_000)).toBe(0);
    for (let s = 2; s < 1_000; s++) w.add(s * 1000, 50 + s);
    expect((w as unknown as { samples: unknown[] }).samples.length).toBeLessThanOrEqual(12);
  });

  it('interpolates the start of the window between samples', () => {
    const w = new RateWindow(10_000);
    w.add(0, 0);
    w.add(20_000, 200); // 10/s all along
    expect(w.rate(20_000)).toBeCloseTo(10);
  });
});
