// The Status screen's one sentence: what state the agent is in, in plain words, and the one
// action that fixes it. Pure, so every state is covered by a test (statusSentence.test.ts).

import type { Status } from '../api';
import { t } from '../messages';
import { formatAgo, formatDue, formatShort } from './time';

/** The colour of the sentence: fine, working, needs a look, broken, or nothing to do yet. */
export type Tone = 'ok' | 'info' | 'warn' | 'bad' | 'neutral';

/** What the one button does: run a sync, resume, or go to the screen that fixes it. */
export type ActionKind = 'sync' | 'resume' | 'review' | 'settings';

export interface StatusAction {
  kind: ActionKind;
  label: string;
}

export interface Sentence {
  tone: Tone;
  text: string;
  /** A second, quieter line: the engine's own words, or when the next sync is. */
  detail?: string;
  action: StatusAction | null;
}

const action = (kind: ActionKind, key: string): StatusAction => ({ kind, label: t(key) });

function changes(n: number): string {
  return t('status.changes', { n });
}

/** The detail line: the engine's message when it gave one, else `fallback`. */
function detailOf(status: Status, fallback?: string): string | undefined {
  return status.message ?? fallback;
}

/** The sentence for a problem (state error, or offline), or null when there is none. */
function problemSentence(status: Status): Sentence | null {
  const offline = status.state === 'offline' || status.problem === 'offline';
  if (offline) {
    return {
      tone: 'warn',
      text: status.queue_depth > 0 ? t('status.offline.waiting', { n: status.queue_depth }) : t('status.offline'),
      detail: detailOf(status),
      action: action('sync', 'status.action.tryAgain'),
    };
  }
  if (status.state !== 'error') return null;
  switch (status.problem) {
    case 'auth':
    case 'permission':
      return { tone: 'bad', text: t('status.revoked'), detail: detailOf(status), action: action('settings', 'status.action.openSettings') };
    case 'keychain':
      return { tone: 'bad', text: t('status.keychain'), detail: detailOf(status), action: action('sync', 'status.action.tryAgain') };
    case 'disk':
      return { tone: 'bad', text: t('status.disk'), detail: detailOf(status), action: action('sync', 'status.action.tryAgain') };
    case 'local':
      return { tone: 'bad', text: t('status.local'), detail: detailOf(status), action: action('sync', 'status.action.tryAgain') };
    case 'refused':
      return { tone: 'bad', text: t('status.refused'), detail: detailOf(status), action: action('sync', 'status.action.tryAgain') };
    default:
      return { tone: 'bad', text: t('status.failed'), detail: detailOf(status), action: action('sync', 'status.action.tryAgain') };
  }
}

/** When the next scheduled sync is, as a detail line ("Next sync in 5 min"). */
function nextRun(status: Status, now: number): string | undefined {
  return status.next_run_at === null ? undefined : t('status.nextRun', { due: formatDue(status.next_run_at, now) });
}

/**
 * The one sentence for `status` at `now`. In order: not connected, a problem (revoked
 * access, offline, keychain, disk, …), syncing, paused, records needing attention, all
 * synced, changes waiting, never synced, and otherwise when it last synced.
 */
export function statusSentence(status: Status, now: number): Sentence {
  if (!status.enrolled) {
    return { tone: 'neutral', text: t('status.notEnrolled'), detail: t('status.notEnrolled.detail'), action: action('settings', 'status.action.setUp') };
  }
  const problem = problemSentence(status);
  if (problem) return problem;

  if (status.state === 'syncing') {
    const p = status.progress;
    return {
      tone: 'info',
      text: p && p.total > 0 ? t('status.syncing.progress', { sent: p.sent.toLocaleString('en'), total: p.total.toLocaleString('en') }) : t('status.syncing'),
      action: null,
    };
  }
  if (status.state === 'paused') {
    return {
      tone: 'warn',
      text: status.paused_until === null ? t('status.paused') : t('status.pausedUntil', { time: formatShort(status.paused_until, now) }),
      detail: status.queue_depth > 0 ? t('status.paused.waiting', { changes: changes(status.queue_depth) }) : undefined,
      action: action('resume', 'status.action.resume'),
    };
  }
  if (status.dead_letters > 0) {
    return {
      tone: 'warn',
      text: t('status.attention', { n: status.dead_letters }),
      detail: t('status.attention.detail'),
      action: action('review', 'status.action.review'),
    };
  }
  if (status.all_synced) {
    return {
      tone: 'ok',
      text: status.last_success_at === null ? t('status.allSynced') : t('status.allSynced.ago', { ago: formatAgo(status.last_success_at, now) }),
      detail: nextRun(status, now),
      action: null,
    };
  }
  if (status.queue_depth > 0) {
    return {
      tone: 'info',
      text: t('status.waiting', { changes: changes(status.queue_depth) }),
      detail: nextRun(status, now),
      action: action('sync', 'status.action.sendNow'),
    };
  }
  if (status.last_success_at === null) {
    return { tone: 'neutral', text: t('status.never'), detail: nextRun(status, now), action: action('sync', 'status.action.syncNow') };
  }
  return {
    tone: 'info',
    text: t('status.lastSynced', { ago: formatAgo(status.last_success_at, now) }),
    detail: nextRun(status, now),
    action: action('sync', 'status.action.syncNow'),
  };
}
