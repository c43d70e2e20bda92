// A provider slot is the only way an attempt takes a provider's state (issue 16): acquire counts it,
// release gives everything back exactly once, and a concurrency turn granted after the attempt ended
// goes straight back to the next in line.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../config/load.ts';
import { openGate } from '../proxy/policy_interface.ts';
import { compileRuntime } from './compile.ts';
import { ProviderRegistry } from './provider_runtime.ts';

async function provider(maxConcurrency?: number) {
  const config = validateConfig({
    providers: [
      {
        name: 'p',
        type: 'openai',
        baseUrl: 'http://127.0.0.1:9/v1',
        credentials: { apiKey: { env: 'KEY' } },
        circuitBreaker: { consecutiveFailures: 1, baseEjectionMs: 60_000, maxEjectionMs: 60_000 },
        ...(maxConcurrency ? { maxConcurrency, maxQueue: 4 } : {}),
      },
    ],
    routes: [{ name: 'r', backends: [{ provider: 'p' }] }],
    access: 'open',
  });
  const runtime = await compileRuntime(config, {
    configDir: '.',
    state: new ProviderRegistry(),
    env: { KEY: 'k' },
    gateFactory: () => openGate,
  });
  const p = runtime.providers.get('p');
  if (!p) throw new Error('provider p missing');
  return p;
}

const pick = { promptText: () => '', random: () => 0.5 };

describe('ProviderSlot', () => {
  it('counts the attempt on the provider and its endpoint until released, once', async () => {
    const p = await provider();
    const slot = p.acquire(pick, undefined);
    expect(slot).toBeDefined();
    expect(p.outstanding).toBe(1);
    expect(slot?.endpoint.outstanding).toBe(1);
    slot?.release('ok', 12);
    slot?.release('failure');
    slot?.release('neutral');
    expect(p.outstanding).toBe(0);
    expect(slot?.endpoint.outstanding).toBe(0);
    // the later 'failure' did nothing: one failure would have opened this circuit
    expect(slot?.endpoint.breaker.state).toBe('closed');
    expect(slot?.endpoint.latencyMs).toBe(12);
  });

  it('a failure counts against the circuit; with it open no slot is handed out', async () => {
    const p = await provider();
    p.acquire(pick, undefined)?.release('failure');
    expect(p.available()).toBe(false);
    expect(p.acquire(pick, undefined)).toBeUndefined();
    expect(p.outstanding).toBe(0);
  });

  it('holds a concurrency turn until released; a turn granted after the end is handed on', async () => {
    const p = await provider(1);
    const signal = new AbortController().signal;
    const a = p.acquire(pick, undefined);
    await a?.waitTurn(signal, 'p');
    expect(p.limiter?.active).toBe(1);
    const b = p.acquire(pick, undefined);
    const c = p.acquire(pick, undefined);
    const bTurn = b?.waitTurn(signal, 'p');
    const cTurn = c?.waitTurn(signal, 'p');
    expect(p.limiter?.queued).toBe(2);
    // b's attempt ends while it is still queued: when its turn comes it goes to c at once
    b?.release('neutral');
    a?.release('ok');
    await bTurn;
    await cTurn;
    expect(p.limiter?.active).toBe(1);
    expect(p.limiter?.queued).toBe(0);
    c?.release('ok');
    expect(p.limiter?.active).toBe(0);
    expect(p.outstanding).toBe(0);
  });
});
