// A Node module hook for tests (`--import` this file, SLUICE_TEST_MODULE_LOG=<file>): appends the URL of
// every module the process loads to the file, one per line, so a test can check what a process loaded.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env.SLUICE_TEST_MODULE_LOG;
if (file) {
  registerHooks({
    load(url, context, next) {
      appendFileSync(file, `${url}\n`);
      return next(url, context);
    },
  });
}
