// A token-counting worker that never answers (a stuck thread), for tokens/pool.test.ts's watchdog test.
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', () => {});
