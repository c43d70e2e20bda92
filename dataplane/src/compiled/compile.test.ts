// compileRuntime in slices: what the current runtime shares with the next one (provider runtimes,
// their pools and settings) changes only at the end, in the step that hands the new runtime over; a
// load that fails on the way changes nothing, and between slices the event loop gets turns.
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../config/load.ts';
import { Slicer } from '../config/steps.ts';
import { openGate } from '../proxy/policy_interface.ts';
import { type CompileOptions, compileRuntime } from './compile.ts';
import { ProviderRegistry } from './provider_runtime.ts';

const config = (header: string, maxConcurrency: number) =>
  validateConfig({
    providers: [
      {
        name: 'p',
        type: 'openai',
        baseUrl: 'http://127.0.0.1:9/v1',
        credentials: { apiKey: { env: 'KEY' } },
        headers: { 'x-version': header },
        maxConcurrency,
      },
    ],
    routes: Array.from({ length: 120 }, (_, i) => ({ name: `r${i}`, backends: [{ provider: 'p' }] })),
    namespaces: [{ name: 'team' }],
  });

const env = { KEY: 'sk-test' };

describe('compileRuntime', () => {
  it('updates shared provider runtimes only when the new runtime is complete', async () => {
    const state = new ProviderRegistry();
    const gate: CompileOptions['gateFactory'] = () => openGate;
    const first = await compileRuntime(config('1', 4), { configDir: '.', state, env, gateFactory: gate });
    const live = first.providers.get('p');
    expect(live?.resolved.config.headers).toEqual({ 'x-version': '1' });

    // while the next config is being built (here: when its gate is made), the live provider is unchanged
    let seenMidway: unknown;
    const second = await compileRuntime(config('2', 8), {
      configDir: '.',
      state,
      env,
      gateFactory: () => {
        seenMidway = { headers: live?.resolved.config.headers, max: live?.limiter?.max };
        return openGate;
      },
    });
    expect(seenMidway).toEqual({ headers: { 'x-version': '1' }, max: 4 });
    // then it is: the same runtime (pool, breaker) carries the new settings
    expect(second.providers.get('p')).toBe(live);
    expect(live?.resolved.config.headers).toEqual({ 'x-version': '2' });
    expect(live?.limiter?.max).toBe(8);
    await state.closeAll();
  });

  it('leaves the live providers as they were when a load fails on the way', async () => {
    const state = new ProviderRegistry();
    const first = await compileRuntime(config('1', 4), {
      configDir: '.',
      state,
      env,
      gateFactory: () => openGate,
    });
    const failing = compileRuntime(config('2', 8), {
      configDir: '.',
      state,
      env,
      gateFactory: () => {
        throw new ConfigError('config', [
          { path: 'namespaces[0].match.apiKeysFile', message: 'cannot read' },
        ]);
      },
    });
    await expect(failing).rejects.toThrow(ConfigError);
    const live = first.providers.get('p');
    expect(live?.resolved.config.headers).toEqual({ 'x-version': '1' });
    expect(live?.limiter?.max).toBe(4);
    await state.closeAll();
  });

  it('gives the event loop turns while it compiles', async () => {
    const state = new ProviderRegistry();
    let turns = 0;
    let running = true;
    const tick = () => {
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const slicer = new Slicer(0);
    const rt = await compileRuntime(config('1', 4), {
      configDir: '.',
      state,
      env,
      gateFactory: () => openGate,
      slicer,
    });
    running = false;
    expect(rt.routes).toHaveLength(120);
    expect(slicer.pauses).toBeGreaterThan(2); // 120 routes: more than one slice, then the hash
    expect(turns).toBeGreaterThan(2);
    await state.closeAll();
  });
});
