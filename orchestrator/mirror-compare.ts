/**
 * The local log against its copy in PostgreSQL. Locally, a log rolled back to an earlier state together
 * with its checkpoints looks like a log that simply stopped there; its copy still holds what was removed.
 */
import type { ChainBreak, EventLog, StoredRow } from './event-log.ts';
import { checkpointHash, type Checkpoint, type CheckpointKey } from './checkpoints.ts';

export function compareWithCopy(log: EventLog, copy: readonly StoredRow[], copyRecords: { keys: readonly CheckpointKey[]; checkpoints: readonly Checkpoint[] }): ChainBreak[] {
  const local = new Map(log.rows().map((e) => [e.seq, e]));
  const missing = new Map<string, number[]>();
  const breaks: ChainBreak[] = [];
  const changed = new Set<string>();
  for (const entry of copy) {
    const here = local.get(entry.seq);
    if (!here) missing.set(entry.stream, [...(missing.get(entry.stream) ?? []), entry.streamSeq]);
    else if ((here.hash !== entry.hash || here.stream !== entry.stream) && !changed.has(entry.stream)) {
      changed.add(entry.stream);
      breaks.push({ stream: entry.stream, streamSeq: entry.streamSeq, seq: entry.seq, problem: 'rewritten', message: `${entry.stream}: entry ${entry.streamSeq} (log position ${entry.seq}) differs from its copy in PostgreSQL` });
    }
  }
  for (const [stream, numbers] of missing) {
    breaks.push({ stream, streamSeq: numbers[0]!, problem: 'truncated', message: `${stream}: ${numbers.length} ${numbers.length === 1 ? 'entry' : 'entries'} the copy in PostgreSQL holds ${numbers.length === 1 ? 'is' : 'are'} missing locally (entr${numbers.length === 1 ? 'y' : 'ies'} ${span(numbers)})` });
  }
  const localCheckpoints = new Map(log.checkpointRecords().checkpoints.map((c) => [c.number, c]));
  const absent = copyRecords.checkpoints.filter((c) => !localCheckpoints.has(c.number)).map((c) => c.number);
  if (absent.length > 0) breaks.push({ stream: 'checkpoints', streamSeq: absent[0]!, problem: 'checkpoint', message: `signed checkpoint${absent.length === 1 ? '' : 's'} ${span(absent)} the copy in PostgreSQL holds ${absent.length === 1 ? 'is' : 'are'} missing locally: the log was rolled back` });
  const replaced = copyRecords.checkpoints.find((c) => localCheckpoints.has(c.number) && checkpointHash(localCheckpoints.get(c.number)!) !== checkpointHash(c));
  if (replaced) breaks.push({ stream: 'checkpoints', streamSeq: replaced.number, problem: 'checkpoint', message: `signed checkpoint ${replaced.number} differs from its copy in PostgreSQL: the local checkpoints were replaced` });
  return breaks;
}

/** "3", "3..7", or "3..7 and 9" for sorted numbers. */
function span(numbers: readonly number[]): string {
  const runs: string[] = [];
  let start = numbers[0]!;
  for (let i = 1; i <= numbers.length; i++) {
    if (i < numbers.length && numbers[i] === numbers[i - 1]! + 1) continue;
    const end = numbers[i - 1]!;
    runs.push(start === end ? String(start) : `${start}..${end}`);
    start = numbers[i]!;
  }
  return runs.length > 3 ? `${runs.slice(0, 3).join(', ')} and more` : runs.join(', ');
}
