import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { channels, endAttempt, endExchange, startAttempt, startExchange } from './lifecycle.ts';

describe('request lifecycle events', () => {
  it('cost nothing without an observer: no exchange, so the request path publishes nothing', () => {
    expect(channels.exchangeStart.hasSubscribers).toBe(false);
    expect(startExchange('r1', 'openai-chat', 'POST', '/v1/chat/completions', {})).toBeUndefined();
    // the helpers take the undefined exchange/attempt and return at once
    expect(() => endExchange(undefined, { status: 200, code: 'ok' })).not.toThrow();
    expect(() => endAttempt(undefined, { status: 500 })).not.toThrow();
  });

  it('let an observer follow a request and add headers to an upstream attempt', () => {
    const seen: string[] = [];
    const onStart = (m: unknown) => seen.push(`start ${(m as { path: string }).path}`);
    const onAttempt = (m: unknown) => {
      (m as { headers: Record<string, string> }).headers.traceparent = 'tp';
    };
    const onEnd = (m: unknown) => seen.push(`end ${(m as { end: { status: number } }).end.status}`);
    subscribe(channels.exchangeStart.name as string, onStart);
    subscribe(channels.attemptStart.name as string, onAttempt);
    subscribe(channels.exchangeEnd.name as string, onEnd);
    try {
      const ex = startExchange('r2', 'openai-chat', 'POST', '/v1/chat/completions?x=1', {});
      expect(ex?.path).toBe('/v1/chat/completions');
      const headers: Record<string, string> = { authorization: 'Bearer k' };
      if (ex)
        startAttempt({
          exchange: ex,
          provider: 'p',
          providerType: 'openai',
          model: 'm',
          origin: 'https://api.openai.com',
          index: 0,
          fallback: false,
          tryNumber: 1,
          headers,
        });
      endExchange(ex, { status: 200, code: 'ok' });
      expect(headers.traceparent).toBe('tp');
      expect(seen).toEqual(['start /v1/chat/completions', 'end 200']);
    } finally {
      unsubscribe(channels.exchangeStart.name as string, onStart);
      unsubscribe(channels.attemptStart.name as string, onAttempt);
      unsubscribe(channels.exchangeEnd.name as string, onEnd);
    }
    expect(channels.exchangeStart.hasSubscribers).toBe(false);
  });
});
