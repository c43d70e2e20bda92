#!/usr/bin/env node
// Entry point of the `sluice` CLI. Node >= 24 runs the TypeScript sources directly (type stripping);
// the container images run the compiled dist/ instead. The sources are loaded with a dynamic import
// AFTER the version check: an older Node would otherwise fail while loading them, before any line
// here ran, with an opaque ERR_UNKNOWN_FILE_EXTENSION ".ts".
const NEEDED = 24;
const major = Number(process.versions.node.split('.')[0]);
if (major < NEEDED) {
  process.stderr.write(
    `sluice needs Node.js ${NEEDED} or newer; this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      'Ways to run it:\n' +
      `  - in the sluice repository: run \`npm ci\` once (it installs Node ${NEEDED} into node_modules/.bin,\n` +
      '    even with --omit=dev), then `npm run sluice -- <command>`, `npx sluice <command>` or `npm start`;\n' +
      `  - or install Node.js ${NEEDED} (https://nodejs.org, or \`nvm install ${NEEDED}\`) and run \`node bin/sluice.js <command>\`.\n`,
  );
  process.exit(1);
}
await import('../cli/main.ts');
