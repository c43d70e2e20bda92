// OpenAI's error envelope as upstreams send it: {"error": {"message", "type", "code", "param"}}, or
// {"error": "text"} from some compatible servers; anything else is reported by its HTTP status.
import type { UpstreamErrorInfo } from '../../providers/types.ts';
import { typeForStatus } from '../upstream_json.ts';

export function parseOpenAIError(status: number, body: Buffer): UpstreamErrorInfo {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as {
      error?: { message?: unknown; code?: unknown; type?: unknown; param?: unknown } | string;
    };
    const e = parsed.error;
    if (typeof e === 'string') return { message: e, type: typeForStatus(status) };
    if (e && typeof e.message === 'string') {
      return {
        message: e.message,
        type: typeof e.type === 'string' ? e.type : typeForStatus(status),
        code: typeof e.code === 'string' ? e.code : typeof e.code === 'number' ? String(e.code) : null,
        param: typeof e.param === 'string' ? e.param : null,
      };
    }
  } catch {
    // not JSON: fall through to the status line
  }
  return { message: `HTTP ${status}`, type: typeForStatus(status) };
}
