#!/usr/bin/env node
'use strict';
// Runs the TypeScript sources through tsx so `npx orthanc-t3` works in a fresh clone right after `npm install`
// and never runs a stale build. Deployments run the compiled `dist/cli/main.js` (see `npm run build`).
const path = require('node:path');
require('tsx/cjs');
require(path.join(__dirname, '..', 'src', 'cli', 'main.ts')).main(process.argv.slice(2));
