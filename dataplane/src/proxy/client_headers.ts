// What an exchange reads from the client's headers: one header's first value (route matchers), and the
// headers a client API passes on to its backends.
import type { FastifyRequest } from 'fastify';

export function headerGetter(req: FastifyRequest): (name: string) => string | undefined {
  return (name) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
}

/** The client headers a client API passes on to its backends (bounded: a header is at most 1 KiB). */
export function forwardedHeaders(
  req: FastifyRequest,
  names: readonly string[],
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let any = false;
  for (const n of names) {
    const v = req.headers[n];
    const value = Array.isArray(v) ? v.join(',') : v;
    if (value && value.length <= 1024) {
      out[n] = value;
      any = true;
    }
  }
  return any ? out : undefined;
}
