#!/usr/bin/env node
// Entry point of the `sluice` CLI. Node >= 24 runs the TypeScript sources directly (type stripping);
// the container images run the compiled dist/ instead.
import '../cli/main.ts';
