import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { validateFiles, errorCount } from '../config/validate.ts';
import { formatDiagnostic } from '../config/source.ts';
import { formatDuration } from '../config/units.ts';
import type { LayoutModel } from '../config/layout.ts';
import type { LoadedSchedule } from '../config/validate.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The example layouts and schedules shipped with Workcell (not the simulator faults files kept beside a layout). */
export function exampleFiles(): string[] {
  return ['layouts', 'schedules'].flatMap((dir) =>
    readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.yaml') && !f.endsWith('.faults.yaml')).sort().map((f) => relative(process.cwd(), join(ROOT, dir, f))),
  );
}

/** `workcell summary [FILE...]`. */
export async function summary([given]: [string[]]): Promise<number> {
  const files = given.length ? given : exampleFiles();
  const result = validateFiles(files);
  for (const d of result.diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
  if (errorCount(result.diagnostics) > 0) return 1;
  for (const { source, model } of result.layouts) process.stdout.write(`${describeLayout(source.file, model)}\n`);
  for (const schedule of result.schedules) process.stdout.write(`${describeSchedule(schedule)}\n`);
  const pairs = result.layouts.length * result.schedules.length;
  process.stdout.write(`All ${files.length} file(s) valid; ${pairs} layout/schedule pair(s) fit.\n`);
  return 0;
}

export function describeLayout(file: string, model: LayoutModel): string {
  const { layout } = model;
  const lines = [`Layout ${layout.layout.id}  (${file})`, `  site: ${layout.layout.site}`];
  for (const lane of model.laneIds()) {
    const modules = layout.modules.filter((m) => model.lanesOf(m).includes(lane) && m.kind !== 'robot-arm' && m.kind !== 'settle-plate-handler');
    lines.push(`  ${lane}: ${modules.map((m) => `${m.id} (${m.kind}${model.isShared(m) ? ', shared' : ''})`).join(', ')}`);
  }
  for (const m of layout.modules.filter((m) => model.isShared(m) && m.lineClearance)) {
    lines.push(`  line clearance on ${m.id}: ${formatDuration(m.lineClearance!.durationMs / 1000)}`);
  }
  for (const arm of model.robotArms()) lines.push(`  robot ${arm.id}: reaches ${arm.reach!.positions.length} positions, lanes ${model.lanesOf(arm).join(', ')}`);
  for (const zone of layout.zones ?? []) lines.push(`  zone ${zone.id}: grade ${zone.grade}, ${zone.settlePlateLocations?.length ?? 0} settle-plate location(s)`);
  const expiries = layout.modules.map((m) => ({ id: m.id, until: [m.qualification.validUntil, m.calibration?.validUntil].filter(Boolean).sort()[0]! })).sort((a, b) => a.until.localeCompare(b.until));
  if (expiries[0]) lines.push(`  first qualification/calibration to expire: ${expiries[0].id} on ${expiries[0].until}`);
  return lines.join('\n');
}

export function describeSchedule({ source, model, contentHash }: LoadedSchedule): string {
  const s = model.schedule;
  const lines = [`Schedule ${s.schedule.id} v${s.schedule.version}: ${s.schedule.name}  (${source.file}, sha256 ${contentHash.slice(0, 12)})`];
  s.steps.forEach((step, i) => {
    const hold = model.maxHold(step);
    const notes = [
      `~${formatDuration(model.expectedDuration(step))}`,
      hold !== undefined ? `max hold ${formatDuration(hold)}` : undefined,
      step.controls?.length ? `${step.controls.length} IPC` : undefined,
      step.environmentalMonitoring ? 'EM' : undefined,
      step.when ? 'conditional' : undefined,
      step.during?.length ? `during: ${step.during.map((r) => r.id).join(', ')}` : undefined,
    ].filter(Boolean);
    lines.push(`  ${String(i + 1).padStart(2)}. ${step.id.padEnd(14)} ${step.capability.padEnd(30)} ${notes.join('; ')}`);
  });
  lines.push(`  expected total: ${formatDuration(model.totalExpectedDuration())} of processing, plus transfers and holds`);
  return lines.join('\n');
}
