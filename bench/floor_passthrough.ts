// The floor of our stack, measured the same way as the gateways: the smallest honest Fastify 5 +
// undici passthrough that parses the request body and the response's usage (whole and streamed).
// Every feature Sluice adds is paid for against this. Run: `node bench/floor_passthrough.ts PORT UPSTREAM`.
import Fastify from 'fastify';
import { Pool } from 'undici';

const [port = '0', upstream = 'http://127.0.0.1:1'] = process.argv.slice(2);
const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
const app = Fastify({ logger: false });
let tokens = 0;
app.post('/v1/chat/completions', async (req, reply) => {
  const body = req.body as { stream?: boolean };
  const up = await pool.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
    body: JSON.stringify(body),
  });
  if (!body.stream) {
    const text = await up.body.text();
    tokens += (JSON.parse(text) as { usage?: { total_tokens?: number } }).usage?.total_tokens ?? 0;
    return reply.code(up.statusCode).header('content-type', 'application/json').send(text);
  }
  reply.hijack();
  reply.raw.writeHead(up.statusCode, { 'content-type': 'text/event-stream' });
  for await (const chunk of up.body) {
    const s = (chunk as Buffer).toString();
    const u = s.indexOf('"usage":{');
    if (u >= 0) tokens += Number(/"total_tokens":(\d+)/.exec(s.slice(u))?.[1] ?? 0);
    reply.raw.write(chunk);
  }
  reply.raw.end();
});
// the total is kept (and reported at exit) so the usage parsing cannot be optimised away
process.on('SIGTERM', () => {
  process.stderr.write(`floor: ${tokens} tokens seen\n`);
  process.exit(0);
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
