/**
 * What the MaterialGate needs to know of robot arms besides where they may take a batch's material:
 * how long a move takes (the layout's transfer times) and that an arm carries one item at a time.
 */
import type { LayoutModel, ModuleConfig } from '../config/layout.ts';

export class RobotArms {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly layout: LayoutModel) {}

  /** The arm carries one item at a time: its work runs one after another, in the order asked. */
  queue<T>(armId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(armId) ?? Promise.resolve();
    const mine = previous.then(work, work);
    this.queues.set(armId, mine.then(() => undefined, () => undefined));
    return mine;
  }

  /** The longest a robot of the lane takes to move material into or out of any of these modules, s. */
  handlingSeconds(moduleIds: readonly string[], lane: string): number {
    const arms = this.layout.robotArms(lane);
    const positions = moduleIds.flatMap((id) => this.layout.positionsOf(this.layout.modules.get(id)!).slice(0, 1));
    return Math.max(0, ...positions.flatMap((position) => arms.filter((arm) => arm.reach!.positions.includes(position)).map((arm) => this.transferSeconds(arm, position, position))));
  }

  /** The layout's time for the move (either way), else the arm's transfer time, s (arms are the robotArms, which have reach). */
  transferSeconds(arm: ModuleConfig, from: string, to: string): number {
    const reach = arm.reach!;
    const specific = reach.transferTimes.find((t) => (t.from === from && t.to === to) || (t.from === to && t.to === from));
    return (specific?.timeMs ?? reach.transferTimeMs) / 1000;
  }
}
