#!/usr/bin/env node
// The workcell CLI runs the TypeScript sources directly (tsx), so a clean `npm ci` is all it needs.
import { register } from 'tsx/esm/api';

// A reader that stopped early (`workcell summary | head`) has all it wanted: end quietly, as a Unix
// tool killed by SIGPIPE would, instead of Node's unhandled-error stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
