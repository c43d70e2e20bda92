// Imported first by main.ts, so that the compiled CLI (dist/cli/main.js) stops with a clear message on
// a Node older than 24 before its dependencies load (undici 8 fails on Node 20 with a TypeError about
// zstd). bin/sluice.js makes the same check for the TypeScript sources, which cannot even be loaded.
const NEEDED = 24;
const major = Number(process.versions.node.split('.')[0]);
if (major < NEEDED) {
  process.stderr.write(
    `sluice needs Node.js ${NEEDED} or newer; this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      `Install Node.js ${NEEDED} (https://nodejs.org, or \`nvm install ${NEEDED}\`), use the node:${NEEDED} image,\n` +
      `or run through npm in the repository (\`npm ci\` installs Node ${NEEDED} into node_modules/.bin).\n`,
  );
  process.exit(1);
}
