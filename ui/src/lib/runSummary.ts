// One sync run in words, the same on Status (after Sync Now) and History.

import type { RunOutcome, SyncRun } from '../api';
import { t } from '../messages';
import { formatDuration } from './time';

const OUTCOME: Record<RunOutcome, string> = {
  synced: 'history.outcome.synced',
  partial: 'history.outcome.partial',
  offline: 'history.outcome.offline',
  auth: 'history.outcome.auth',
  error: 'history.outcome.error',
};

/** "Synced", "Some records refused", "Couldn't reach the server", …; "Running…" before it ends. */
export function outcomeWords(run: SyncRun): string {
  return run.outcome === null ? t('history.outcome.running') : t(OUTCOME[run.outcome]);
}

/** "Scheduled" or "Sync Now". */
export function triggerWords(run: SyncRun): string {
  return run.trigger === 'manual' ? t('history.trigger.manual') : t('history.trigger.schedule');
}

/** "Sent 500 · 1 refused": what went to the server ("refused" only when some were). */
export function sentWords(run: SyncRun): string {
  const sent = t('history.sent', { n: run.sent.toLocaleString('en') });
  return run.rejected > 0 ? `${sent} · ${t('history.refused', { n: run.rejected.toLocaleString('en') })}` : sent;
}

/** How long the run took ("3 s"), or null while it runs. */
export function runDuration(run: SyncRun): string | null {
  return run.finished_at === null ? null : formatDuration(Math.max(0, run.finished_at - run.started_at));
}

/** "Sent 500 · 1 refused · 3 s" after Sync Now; a run that did not reach the server says why. */
export function runResult(run: SyncRun): string {
  const parts = [sentWords(run)];
  if (run.outcome !== 'synced' && run.outcome !== 'partial' && run.outcome !== null) parts.push(outcomeWords(run));
  const took = runDuration(run);
  if (took) parts.push(took);
  return parts.join(' · ');
}
