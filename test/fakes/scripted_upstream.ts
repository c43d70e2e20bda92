// An upstream that answers whatever the test scripts, byte for byte: any status, any headers, a body
// in reads of any size with pauses between them, cut off without an end (a reset). It speaks no format
// of its own: the tests generate each provider's wire format (upstream_wire_samples.ts) and break it.
// It remembers the credential each request carried, so a script can echo it back, and counts the
// responses still open (each one a socket the gateway left behind).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Script {
  status: number;
  headers?: Record<string, string>;
  /** the body, in the reads it is written in */
  reads: Buffer[];
  /** pause before each read */
  gapMs?: number;
  /** destroy the socket after the reads instead of ending the response */
  reset?: boolean;
}

export interface ScriptedUpstream {
  url: string;
  /** what the next requests get, given the credential header the request carried */
  setScript(f: (credential: string, req: IncomingMessage) => Script): void;
  activeResponses(): number;
  requests(): number;
  close(): Promise<void>;
}

/** The credential a provider sends: OpenAI's bearer token, Anthropic's x-api-key, Gemini's, SigV4's header. */
function credentialOf(req: IncomingMessage): string {
  const h = req.headers;
  const v = h['x-api-key'] ?? h['x-goog-api-key'] ?? h.authorization ?? '';
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  let script: (credential: string, req: IncomingMessage) => Script = () => ({ status: 500, reads: [] });
  let active = 0;
  let count = 0;
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    count++;
    active++;
    let open = true;
    const closed = () => {
      if (open) active--;
      open = false;
    };
    res.on('close', closed);
    for await (const _ of req) {
      // the request body is not checked here: the translators' own suites do that
    }
    const s = script(credentialOf(req), req);
    res.writeHead(s.status, { 'content-type': 'application/json', ...s.headers });
    res.flushHeaders();
    for (const r of s.reads) {
      if (s.gapMs) await sleep(s.gapMs);
      if (res.destroyed) return;
      res.write(r);
    }
    if (s.reset) res.destroy();
    else res.end();
  };
  const server = createServer((req, res) => {
    serve(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setScript: (f) => {
      script = f;
    },
    activeResponses: () => active,
    requests: () => count,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
