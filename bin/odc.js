#!/usr/bin/env node
// The odc command: runs the compiled CLI (built into dist/ by `npm ci` / `npm run build`).
import('../dist/cli/main.js');
