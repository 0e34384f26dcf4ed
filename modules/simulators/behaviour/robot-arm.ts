/**
 * A robot arm that carries one item at a time and scans it at pick and place. The scan is what the
 * barcode reader saw: a misread (an injected fault) is reported, never corrected.
 */
import { DefinedExecutionError } from '../../../drivers/sila2/errors.ts';
import { runFor, type KindBehaviour } from './context.ts';

export const robotArm: KindBehaviour = {
  async transfer(context) {
    const itemId = String(context.parameters.itemId);
    const from = String(context.parameters.from);
    const to = String(context.parameters.to);
    const atPick = context.world.itemAt(from);
    const scannedAtPick = context.wrongScan ? `MISREAD-${Math.floor(context.random.next() * 1e6)}` : atPick?.id ?? '';
    if (scannedAtPick !== itemId) {
      throw new DefinedExecutionError('WrongItem', `expected item ${itemId} at ${from}, scanned '${scannedAtPick || 'nothing'}'`);
    }
    const occupant = context.world.itemAt(to);
    if (occupant) throw new DefinedExecutionError('ModuleOccupied', `${to} already holds ${occupant.id}`);
    await runFor(context, context.durationSeconds, () => ({ gripForce: context.random.normal(18, 0.5) }));
    context.world.move(itemId, to);
    return { scannedAtPick, scannedAtPlace: context.world.itemAt(to)?.id ?? '' };
  },

  async scan(context) {
    await runFor(context, context.durationSeconds);
    const at = String(context.parameters.at);
    return { itemId: context.wrongScan ? 'MISREAD' : context.world.itemAt(at)?.id ?? '' };
  },
};
