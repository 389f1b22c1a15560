import type { RunOutcome, SyncRun, SyncState } from '../api';

/** What each state means for site staff, shown under the big state word. */
export const STATE_HINT: Record<SyncState, string> = {
  idle: 'Waiting for the next scheduled sync.',
  syncing: 'Sending changes to the server…',
  paused: 'Scheduled syncs are paused.',
  offline: 'The server cannot be reached; changes are kept and sent when it is back.',
  error: 'The last sync failed.',
};

export const OUTCOME_LABEL: Record<RunOutcome, string> = {
  synced: 'Synced',
  partial: 'Partly synced (some records rejected)',
  offline: 'Offline',
  auth: 'Sign-in refused',
  error: 'Failed',
};

/** The CSS colour class of a run's outcome; a run still going has none yet. */
export function outcomeClass(outcome: RunOutcome | null): string {
  return `fill-outcome-${outcome ?? 'running'}`;
}

export function outcomeLabel(run: SyncRun): string {
  return run.outcome ? OUTCOME_LABEL[run.outcome] : 'Running';
}
