// Preloaded into gateways that always listen on every interface (Portkey's start-server has no host
// option): net.Server#listen(port) becomes listen(port, '127.0.0.1'), so the bench serves loopback only.
import net from 'node:net';

type AnyListen = (this: net.Server, ...args: unknown[]) => net.Server;
const listen = net.Server.prototype.listen as unknown as AnyListen;

const patched: AnyListen = function (this: net.Server, ...args: unknown[]) {
  const [first, ...rest] = args;
  if (typeof first === 'number' && (rest.length === 0 || typeof rest[0] === 'function')) {
    return listen.call(this, first, '127.0.0.1', ...rest);
  }
  if (first && typeof first === 'object' && 'port' in first && !('host' in first)) {
    return listen.call(this, { ...(first as net.ListenOptions), host: '127.0.0.1' }, ...rest);
  }
  return listen.apply(this, args);
};
net.Server.prototype.listen = patched as unknown as typeof net.Server.prototype.listen;
