// The shared composition of two stream translators: what reaches the outer stream, which usage is passed
// on, and that the core's own writes (cap cut, early finish, late error) are in the outer (client) format.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors.ts';
import type { StreamEvent, StreamTranslator, Usage } from '../types.ts';
import { ComposedStream } from './composed_stream.ts';

/** A stream translator that answers each call from a script and records what it was fed. */
class Scripted implements StreamTranslator {
  readonly fed: string[] = [];
  readonly tag: string;
  readonly onPush: (chunk: string) => StreamEvent[];
  readonly onEnd: () => StreamEvent[];
  constructor(tag: string, onPush: (chunk: string) => StreamEvent[], onEnd: () => StreamEvent[] = () => []) {
    this.tag = tag;
    this.onPush = onPush;
    this.onEnd = onEnd;
  }
  push(chunk: Buffer): StreamEvent[] {
    this.fed.push(chunk.toString());
    return this.onPush(chunk.toString());
  }
  end(): StreamEvent[] {
    return this.onEnd();
  }
  textChunk(text: string, cut?: StreamEvent): string {
    return `${this.tag}:text:${text}:${cut ? String(cut.data) : '-'}`;
  }
  finish(reason: 'length', usage: Usage, cut?: StreamEvent): string {
    return `${this.tag}:finish:${reason}:${usage.outputTokens}:${cut ? String(cut.data) : '-'}`;
  }
  errorEvent(err: GatewayError): string {
    return `${this.tag}:error:${err.code}`;
  }
}

const backendUsage: Usage = { inputTokens: 7, outputTokens: 3, cacheCreationInputTokens: 2 };
const chunkUsage: Usage = { inputTokens: 7, outputTokens: 3 };

describe('ComposedStream', () => {
  it('feeds each inner event with bytes to the outer stream and passes the inner usage on last', () => {
    const inner = new Scripted('in', (c) => [
      { data: `<${c}>` },
      { data: '', usage: { inputTokens: 1, outputTokens: 1 } },
      { data: `[${c}]`, usage: backendUsage },
    ]);
    const outer = new Scripted('out', (c) => [{ data: `out(${c})`, usage: chunkUsage }]);
    const evs = new ComposedStream(inner, outer).push(Buffer.from('x'));
    expect(inner.fed).toEqual(['x']);
    // the empty-data event is not fed to the outer stream
    expect(outer.fed).toEqual(['<x>', '[x]']);
    // the outer's events first, then one usage event with the inner's last usage (the backend's)
    expect(evs).toEqual([
      { data: 'out(<x>)', usage: chunkUsage },
      { data: 'out([x])', usage: chunkUsage },
      { data: '', usage: backendUsage },
    ]);
  });

  it('adds no usage event when the inner events carry none', () => {
    const inner = new Scripted('in', (c) => [{ data: c }]);
    const outer = new Scripted('out', (c) => [{ data: c.toUpperCase() }]);
    expect(new ComposedStream(inner, outer).push(Buffer.from('ab'))).toEqual([{ data: 'AB' }]);
  });

  it('at the end feeds the inner trailing events through, then the outer trailing events', () => {
    const inner = new Scripted(
      'in',
      () => [],
      () => [{ data: 'tail', usage: backendUsage, done: true }],
    );
    const outer = new Scripted(
      'out',
      (c) => [{ data: `out(${c})` }],
      () => [{ data: 'out-end', done: true }],
    );
    expect(new ComposedStream(inner, outer).end()).toEqual([
      { data: 'out(tail)' },
      { data: '', usage: backendUsage },
      { data: 'out-end', done: true },
    ]);
  });

  it('writes the core-made events (cap cut, early finish, late error) in the outer format', () => {
    const inner = new Scripted('in', () => []);
    const outer = new Scripted('out', () => []);
    const s = new ComposedStream(inner, outer);
    const cut: StreamEvent = { data: 'cut' };
    expect(s.textChunk('hi', cut)).toBe('out:text:hi:cut');
    expect(s.textChunk('hi')).toBe('out:text:hi:-');
    expect(s.finish('length', backendUsage, cut)).toBe('out:finish:length:3:cut');
    expect(s.errorEvent(new GatewayError('SLUICE_ERR_UPSTREAM_ERROR', 'boom'))).toBe(
      'out:error:SLUICE_ERR_UPSTREAM_ERROR',
    );
  });

  it('lets a composition feed the inner events its own way', () => {
    class Whole extends ComposedStream {
      protected override through(events: StreamEvent[]): StreamEvent[] {
        return [{ data: events.map((e) => String(e.data)).join('+') }];
      }
    }
    const inner = new Scripted(
      'in',
      (c) => [{ data: c }, { data: c }],
      () => [{ data: 'z' }],
    );
    const outer = new Scripted(
      'out',
      () => [],
      () => [{ data: 'out-end' }],
    );
    const s = new Whole(inner, outer);
    expect(s.push(Buffer.from('a'))).toEqual([{ data: 'a+a' }]);
    expect(s.end()).toEqual([{ data: 'z' }, { data: 'out-end' }]);
    expect(outer.fed).toEqual([]);
  });
});
