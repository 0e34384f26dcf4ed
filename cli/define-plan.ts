/** `workcell plan`: its description, arguments and options. */
import type { Command } from 'commander';
import { argument, lazy, option } from './usage.ts';

export function definePlanCommand(program: Command): void {
  const plan = program
    .command('plan')
    .summary('Capacity planning: patients a week, bottleneck and waits of layouts and schedules, in virtual time.')
    .description(
      [
        'Runs each scenario (layout × schedule × scheduler) through the real orchestrator on simulated devices in virtual time, once per seed, and reports what the runs show: patients completed a week in steady state and its spread, vein-to-vein time (arrival to completed) p50 and p90, each module\'s utilisation and the busiest, time lost to line clearance and transfers, waits for modules by cause, hold-time slack (minimum and 10th percentile per hold) and every hold-time deviation with its cause, holds, and the bottleneck bound (from step durations and module counts) with throughput as a share of it. Several layouts and schedules are compared side by side; --add tries more modules of a kind without editing the layout.',
        'Arrivals: --patients N all at the start, or --arrivals with a rate (3/week, 2/day, every 36h: evenly spaced over the horizon) or a YAML or CSV file of dates (docs/plan.md). Each patient\'s starting material is usable for its viability window after collection; material that expires before its first step is a finding. Holds are not answered in a plan: a batch held for an operator stays held.',
        'Every run prints its digest: the same layout, schedule, arrivals, start and seed give the same digest on every run and machine. Exit status 0 when the plan ran, 2 for bad input (a layout that cannot run a schedule, an arrival spec that does not parse, a horizon too short for one batch).',
      ].join('\n\n'),
    );
  argument(plan, '[LAYOUT...]', 'the layout files to compare (at least one)');
  option(plan, '--schedule <FILE>', 'a schedule to compare (each layout runs each schedule)', { required: true, repeat: true });
  option(plan, '--patients <N>', 'N patients, all arriving at the start');
  option(plan, '--arrivals <SPEC>', 'a rate (3/week, 2/day, every 36h) or a .yaml/.yml/.csv file of dates');
  option(plan, '--horizon <DURATION>', 'how long to simulate: 12w, 26 weeks, 10 d', { default: '12w' });
  option(plan, '--start <DATE>', 'when the plan starts (ISO 8601, UTC unless a zone is given)', { shownDefault: "today 08:00 UTC; with a file of dates, its first arrival" });
  option(plan, '--viability <DURATION>', "how long each patient's starting material stays usable after collection, unless the arrivals file says", { default: '36 h' });
  option(plan, '--seed <N>', 'the first seed of the simulated devices and starting material', { default: '1' });
  option(plan, '--seeds <K>', 'runs per scenario, with seeds N, N+1, ..., N+K-1', { default: '1' });
  option(plan, '--faults <FILE>', 'faults for the simulated devices (docs/simulators.md)');
  option(plan, '--scheduler <NAME>', 'the scheduler (one of: deadline-first); several to compare them', { repeat: true, shownDefault: 'deadline-first' });
  option(plan, '--add <KIND=N>', 'also run each layout with N more modules of KIND (copies of its first one, with ids and endpoints of their own); a module id instead of KIND copies that module (a module of one lane: into that lane)', { repeat: true });
  option(plan, '--json', 'the figures as one JSON object (its schema: --json-schema)');
  option(plan, '--json-schema', 'print the JSON Schema of --json and exit');
  option(plan, '--html <FILE>', 'also write an HTML report: comparison, throughput against the bound, utilisation, Gantt charts');
  option(plan, '--force', 'with --html: replace an existing file');
  option(plan, '--keep <DIR>', "keep each run's database in DIR (records, verify and review read them)");
  plan.action(lazy(async () => (await import('./plan.ts')).plan));
}
