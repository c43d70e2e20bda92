// `node --import ./test/k8s/module_trace.ts`: records the URL of every module the process resolves
// (import and require alike, through module.registerHooks) and writes them, one a line, to the file
// named by SLUICE_MODULE_TRACE when the process exits. Tests use it to prove what a process never
// loads (e.g. @kubernetes/client-node in `sluice serve --report-lease`).
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.SLUICE_MODULE_TRACE;
if (!out) throw new Error('module_trace.ts needs SLUICE_MODULE_TRACE (the file to write)');
const urls = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    urls.add(resolved.url);
    return resolved;
  },
});
// 'exit' also runs on process.exit(), which is how `sluice serve` ends after draining
process.on('exit', () => writeFileSync(out, [...urls].join('\n')));
