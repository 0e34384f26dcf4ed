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
// A command that returned has written and closed everything of its own; what may remain is a device's
// stream it walked away from (a settle plate still incubating when `run` was stopped with Ctrl-C). That
// must not keep the process alive: exit shortly after, unless it has ended by itself by then.
setTimeout(() => process.exit(), 1000).unref();
