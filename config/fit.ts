/**
 * Whether a schedule can run on a layout: every lane has a module for every step, material can be
 * carried from each step's module to the next one's, monitored steps have settle plates, and batches
 * that return to a module have somewhere to make way.
 */
import type { LayoutModel, ModuleConfig } from './layout.ts';
import type { ScheduleModel, Step } from './schedule.ts';
import type { YamlSource } from './source.ts';

export function checkFit(layout: LayoutModel, schedule: ScheduleModel, scheduleSource: YamlSource): void {
  const steps = schedule.schedule.steps;
  const where = `layout '${layout.id}'`;
  for (const lane of layout.laneIds()) {
    const candidates = steps.map((step) => layout.modulesFor(lane, step.capability));
    steps.forEach((step, i) => {
      if (candidates[i]!.length === 0) {
        scheduleSource.reportAt(['steps', i, 'capability'], `no module in lane '${lane}' of ${where} offers ${step.capability}`);
      }
      for (const recurring of step.during ?? []) {
        const j = step.during!.indexOf(recurring);
        const unable = candidates[i]!.filter((m) => !layout.capabilitiesOf(m).includes(recurring.capability.split('.')[1]!));
        if (unable.length) scheduleSource.reportAt(['steps', i, 'during', j, 'capability'], `module${unable.length > 1 ? 's' : ''} ${unable.map((m) => `'${m.id}'`).join(', ')} in lane '${lane}' of ${where} cannot ${recurring.capability} during step '${step.id}'`);
      }
    });
    checkTransfers(layout, lane, steps, candidates, scheduleSource);
    checkCircularWait(layout, lane, steps, candidates, scheduleSource);
  }
  steps.forEach((step, i) => {
    if (step.environmentalMonitoring) checkMonitoring(layout, step, i, scheduleSource);
  });
}

function checkMonitoring(layout: LayoutModel, step: Step, index: number, source: YamlSource): void {
  const modules = new Set(layout.laneIds().flatMap((lane) => layout.modulesFor(lane, step.capability)));
  for (const module of modules) {
    const zone = module.zone ? layout.zone(module.zone) : undefined;
    const reason = !zone
      ? `module '${module.id}' has no zone`
      : !zone.settlePlateLocations?.length
        ? `zone '${zone.id}' of module '${module.id}' has no settle-plate location`
        : layout.settlePlateHandlersFor(zone.id).length === 0
          ? `no settle-plate handler serves zone '${zone.id}' of module '${module.id}'`
          : undefined;
    if (reason) source.reportAt(['steps', index, 'environmentalMonitoring'], `step '${step.id}' needs environmental monitoring, but in layout '${layout.id}' ${reason}`);
  }
}

/**
 * Wherever the material is after one step, some module for the next step must be reachable: the same
 * module if it offers the next capability, or one a robot arm of the lane can carry it to. A step with
 * a condition may be skipped, so the step after it must be reachable too.
 */
function checkTransfers(layout: LayoutModel, lane: string, steps: Step[], candidates: ModuleConfig[][], source: YamlSource): void {
  const intake = layout.workcellPositions('intake', lane).map((p) => p.id);
  const output = layout.workcellPositions('output', lane).map((p) => p.id);
  const reported = new Set<string>();
  const report = (stepIndex: number | 'output', message: string) => {
    if (reported.has(message)) return;
    reported.add(message);
    source.reportAt(stepIndex === 'output' ? ['steps', steps.length - 1, 'capability'] : ['steps', stepIndex, 'capability'], message);
  };
  const reachable = (from: string, next: ModuleConfig[]) =>
    next.some((m) => m.id === from || layout.robotsConnecting(from, m.id, lane).length > 0);

  // Each origin is a place the material can be before step `to`: a module of an earlier step or an intake position.
  const origins: Array<{ place: string; after: string }> = intake.map((p) => ({ place: p, after: `intake '${p}'` }));
  let current = origins;
  for (let to = 0; to < steps.length; to++) {
    const next = candidates[to]!;
    if (next.length > 0) {
      for (const origin of current) {
        if (!reachable(origin.place, next)) {
          report(to, `in lane '${lane}' of layout '${layout.id}', no robot arm can carry material from '${origin.place}' (${origin.after}) to a module for step '${steps[to]!.id}' (${next.map((m) => m.id).join(', ')})`);
        }
      }
    }
    const arrived = next.map((m) => ({ place: m.id, after: `after step '${steps[to]!.id}'` }));
    current = steps[to]!.when ? [...current, ...arrived] : arrived;
  }
  for (const origin of current) {
    if (output.length && !output.some((p) => origin.place === p || layout.robotsConnecting(origin.place, p, lane).length > 0)) {
      report('output', `in lane '${lane}' of layout '${layout.id}', no robot arm can carry the product from '${origin.place}' to an output position (${output.join(', ')})`);
    }
  }
}

/**
 * A schedule that leaves a module and comes back to it later (wash on a separator, electroporate, then
 * concentrate on the same separator) lets two batches of a lane each hold the module the other needs
 * next. The orchestrator breaks that by moving one bag to storage; a lane with no storage slot cannot.
 */
function checkCircularWait(layout: LayoutModel, lane: string, steps: Step[], candidates: ModuleConfig[][], source: YamlSource): void {
  if (layout.workcellPositions('storage', lane).length > 0) return;
  for (let later = 2; later < steps.length; later++) {
    const leftAfter = (m: ModuleConfig, i: number) => candidates.slice(i + 1, later).some((between) => !between.includes(m));
    const returnsTo = candidates[later]!.find((m) => candidates.slice(0, later).some((earlier, i) => earlier.includes(m) && leftAfter(m, i)));
    if (!returnsTo) continue;
    source.reportAt(
      ['steps', later, 'capability'],
      `step '${steps[later]!.id}' returns to module '${returnsTo.id}' after other modules; in lane '${lane}' of layout '${layout.id}' two batches can then each wait for the module the other holds, and the lane has no storage slot to make way`,
      'value',
      'warning',
    );
    return;
  }
}
