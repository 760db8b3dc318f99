#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (built from src/ by `npm run build`, which `npm ci` and `npm pack` run
// through the `prepare` script). Nothing here needs TypeScript at run time.
import { main } from '../dist/cli/main.js';

await main(process.argv);
