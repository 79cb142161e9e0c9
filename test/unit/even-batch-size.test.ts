import { describe, expect, it } from 'vitest';
import { evenBatchSize } from '../../src/workflows/page-batch-scheduler.js';

describe('evenBatchSize', () => {
  it('splits a page into full rounds of batches (1,000 tasks, 4 slots, at most 100: 12 batches of 84)', () => {
    expect(evenBatchSize(1000, 4, 100)).toBe(84);
    expect(evenBatchSize(40, 4, 100)).toBe(10);
    expect(evenBatchSize(1, 16, 100)).toBe(1);
    expect(evenBatchSize(0, 4, 100)).toBe(1);
  });

  it('never exceeds batchSize, and uses no more rounds than batches of batchSize would', () => {
    for (let count = 1; count <= 3000; count += 37) {
      for (const slots of [1, 2, 3, 4, 8, 16]) {
        for (const batchSize of [1, 7, 50, 100, 200]) {
          const size = evenBatchSize(count, slots, batchSize);
          expect(size).toBeGreaterThanOrEqual(1);
          expect(size).toBeLessThanOrEqual(batchSize);
          const rounds = Math.ceil(Math.ceil(count / size) / slots);
          expect(rounds, `${count}/${slots}/${batchSize}`).toBe(Math.max(1, Math.ceil(count / (slots * batchSize))));
        }
      }
    }
  });
});
