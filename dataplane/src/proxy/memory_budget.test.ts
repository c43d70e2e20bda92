import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { registry } from '../observability/metrics.ts';
import { BudgetHold, MemoryBudget, memoryBudget, overloaded } from './memory_budget.ts';

describe('memory budget', () => {
  it('refuses what does not fit, never goes negative, and follows a new limit', () => {
    const b = new MemoryBudget(100);
    expect(b.tryTake(60)).toBe(true);
    expect(b.tryTake(41)).toBe('replica');
    expect(b.used).toBe(60);
    b.give(500);
    expect(b.used).toBe(0);
    b.setLimit(10);
    expect(b.tryTake(11)).toBe('replica');
  });

  it('keeps each namespace to its share, so the rest stays for the others', () => {
    const b = new MemoryBudget(100);
    b.setLimit(100, 0.5);
    expect(b.tryTake(40, 'noisy')).toBe(true);
    expect(b.tryTake(20, 'noisy')).toBe('namespace');
    expect(b.tryTake(50, 'quiet')).toBe(true);
    expect(b.tryTake(20, 'third')).toBe('replica');
    b.give(40, 'noisy');
    expect(b.tryTake(50, 'noisy')).toBe(true);
    b.give(50, 'noisy'); // room in the replica, none left in the quiet tenant's half
    const hold = new BudgetHold(b, new EventEmitter(), 'quiet');
    expect(hold.take(10)).toBe(false);
    expect(hold.refusal('request body').message).toMatch(/namespace 'quiet' holds its share \(50%\)/);
  });

  it('a hold gives everything back exactly once, when its response closes', () => {
    const b = new MemoryBudget(100);
    const response = new EventEmitter();
    const hold = new BudgetHold(b, response);
    expect(hold.take(30)).toBe(true);
    expect(hold.take(30)).toBe(true);
    expect(hold.take(50)).toBe(false);
    hold.give(10);
    expect([hold.held, b.used]).toEqual([50, 50]);
    const other = new BudgetHold(b, new EventEmitter());
    expect(other.take(40)).toBe(true);
    response.emit('close');
    response.emit('close');
    expect(b.used).toBe(40);
    // a closed hold takes nothing more (a late chunk after the client left)
    expect(hold.take(1)).toBe(false);
  });

  it('is a 503 with Retry-After, and shows in the metrics', async () => {
    const err = overloaded('request body');
    expect([err.status, err.code, err.headers?.['retry-after']]).toEqual([503, 'SLUICE_ERR_OVERLOADED', '1']);
    memoryBudget.setLimit(12_345_678);
    const text = await registry.metrics();
    expect(text).toContain('sluice_memory_budget_bytes{state="limit"} 12345678');
    expect(text).toMatch(/sluice_memory_budget_bytes\{state="used"\} \d+/);
  });
});
