// Audit event names (docs/audit-events.md) as people read them, and the groups the audit
// log filters by. Labels live in messages/admin.ts under `admin.event.<name>`.

import { t } from '../../messages';
import { CATALOG } from '../../messages';

/** "sync.batch.applied" → "Batch applied" (the catalog's label), else a humanised fallback. */
export function eventLabel(event: string): string {
  const key = `admin.event.${event}`;
  if (key in CATALOG) return t(key);
  return humanise(event);
}

/** "rate_limit.exceeded" → "Rate limit exceeded": for events the catalog does not know yet. */
export function humanise(event: string): string {
  const words = event
    .split(/[._]+/)
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
  return words ? words[0].toUpperCase() + words.slice(1) : event;
}

export type EventGroup = 'sync' | 'signin' | 'config' | 'sites' | 'audit';

/** The event names each filter chip selects. */
export const EVENT_GROUPS: Record<EventGroup, string[]> = {
  sync: ['sync.batch.applied', 'sync.batch.refused', 'idempotency.hit', 'idempotency.mismatch', 'idempotency.in_flight'],
  signin: [
    'token.issued',
    'token.refreshed',
    'token.refresh_reuse',
    'token.denied',
    'token.revoked',
    'token.introspected',
    'auth.client.failure',
    'auth.bearer.failure',
    'rate_limit.exceeded',
  ],
  config: ['config.changed', 'config.secret_read', 'config.key_rotated'],
  sites: ['client.registered', 'client.revoked', 'client.secret_rotated', 'tenant.created'],
  audit: ['audit.read', 'audit.exported', 'audit.verified', 'audit.pruned'],
};

export const GROUP_ORDER: EventGroup[] = ['sync', 'signin', 'config', 'sites', 'audit'];

/** The server's comma-separated event filter for the chosen groups (null: every event). */
export function eventsFor(groups: EventGroup[]): string | null {
  if (groups.length === 0) return null;
  return GROUP_ORDER.filter((g) => groups.includes(g))
    .flatMap((g) => EVENT_GROUPS[g])
    .join(',');
}

function num(details: Record<string, unknown>, key: string): number | null {
  const v = details[key];
  return typeof v === 'number' ? v : null;
}

function str(details: Record<string, unknown>, key: string): string | null {
  const v = details[key];
  return typeof v === 'string' && v ? v : null;
}

/** One short line about an entry, from its details (never a secret: the server keeps none there). */
export function auditSummary(event: string, details: unknown): string {
  if (!details || typeof details !== 'object' || Array.isArray(details)) return '';
  const d = details as Record<string, unknown>;
  switch (event) {
    case 'sync.batch.applied':
      return t('admin.summary.batch', {
        records: num(d, 'records') ?? 0,
        applied: num(d, 'applied') ?? 0,
        rejected: num(d, 'rejected') ?? 0,
      });
    case 'config.changed': {
      const what = [str(d, 'action'), str(d, 'key')].filter(Boolean).join(' ');
      const comment = str(d, 'comment');
      const version = num(d, 'new_version');
      return t('admin.summary.config', { what, version: version ?? '?', comment: comment ?? '' });
    }
    case 'client.registered':
      return str(d, 'name') ?? '';
    default: {
      const reason = str(d, 'reason') ?? str(d, 'error');
      if (reason) return reason;
      // A few scalar fields, as "key: value".
      return Object.entries(d)
        .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
        .slice(0, 3)
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join(' · ');
    }
  }
}
