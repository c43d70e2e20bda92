// The OTLP/HTTP endpoint the traced Sluice target exports to: reads each export, counts the spans'
// bytes and answers 200 with an empty ExportTraceServiceResponse (an empty protobuf message), so the
// benchmark charges Sluice for recording and exporting spans, not a collector for storing them.
//
// Run standalone: `node bench/otlp_sink.ts [port]` prints {"port":N} on stdout once listening.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let exports = 0;
let bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (c: Buffer) => {
    bytes += c.length;
  });
  req.on('end', () => {
    exports++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
    res.end();
  });
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ exports, bytes })}\n`);
  server.close(() => process.exit(0));
});
