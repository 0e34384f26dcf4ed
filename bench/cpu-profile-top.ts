/**
 * The functions and files with the most self time in a V8 CPU profile (`node --cpu-prof`): what to look at
 * first. `node --import tsx bench/cpu-profile-top.ts DIR/*.cpuprofile [LIMIT]`; of several profiles (Node
 * profiles its module-loader thread too) the largest is read, the main thread's. tsx runs sources
 * transpiled, so a function's line is not the source's: its name and file are what to go by.
 */
import { readFileSync, statSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const files = args.filter((a) => a.endsWith('.cpuprofile')).sort((a, b) => statSync(b).size - statSync(a).size);
const limit = Number(args.find((a) => /^\d+$/.test(a)) ?? 40);
if (files.length === 0) {
  console.error('usage: node --import tsx bench/cpu-profile-top.ts FILE.cpuprofile... [LIMIT]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(files[0]!, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<number, number>();
// timeDeltas[i] is the time before samples[i]: it is charged to that sample's node.
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
const add = (map: Map<string, number>, key: string, micros: number) => map.set(key, (map.get(key) ?? 0) + micros);
for (const [id, micros] of self) {
  const { callFrame } = byId.get(id)!;
  const where = callFrame.url.replace(/^file:\/\/.*?\/(node_modules|orchestrator|drivers|modules|cli|config|bench)\//, '$1/');
  add(byFunction, `${callFrame.functionName || '(anonymous)'} ${where}`, micros);
  const packageOf = where.split('/').slice(0, where.startsWith('node_modules/@') ? 3 : 2).join('/');
  add(byFile, where.startsWith('node_modules/') ? packageOf : where || callFrame.functionName, micros);
}
const show = (title: string, map: Map<string, number>, n: number) => {
  console.log(`${title} (of ${(total / 1e6).toFixed(2)} s sampled)`);
  for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((micros / total) * 100).toFixed(1).padStart(5)}%  ${(micros / 1e3).toFixed(0).padStart(6)} ms  ${key}`);
};
show('self time by function', byFunction, limit);
show('\nself time by file', byFile, 25);
