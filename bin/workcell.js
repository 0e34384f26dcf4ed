#!/usr/bin/env node
// The workcell CLI runs the TypeScript sources directly (tsx), so a clean `npm ci` is all it needs.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
