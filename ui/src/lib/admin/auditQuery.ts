// The audit log's filter as the admin sets it, and the server query it makes.

import type { AuditOutcome, AuditQuery } from '../../apiAdmin';
import { eventsFor, type EventGroup } from './events';

export interface AuditFilter {
  groups: EventGroup[];
  outcome: AuditOutcome | null;
  clientId: string | null;
  q: string;
  since: number | null;
}

export const NO_FILTER: AuditFilter = { groups: [], outcome: null, clientId: null, q: '', since: null };

const HOUR = 3_600_000;

export type Preset = 'failures' | 'config' | 'signins';

/** The quick filters: what each one selects, from `now`. */
export function presetFilter(preset: Preset, now: number): AuditFilter {
  switch (preset) {
    case 'failures':
      return { ...NO_FILTER, outcome: 'failure', since: now - 24 * HOUR };
    case 'config':
      return { ...NO_FILTER, groups: ['config'], since: now - 7 * 24 * HOUR };
    case 'signins':
      return { ...NO_FILTER, groups: ['signin'], since: now - 24 * HOUR };
  }
}

/** The server's filter (no paging): unset fields are left out. */
export function auditQuery(f: AuditFilter): AuditQuery {
  const query: AuditQuery = {};
  const event = eventsFor(f.groups);
  if (event) query.event = event;
  if (f.outcome) query.outcome = f.outcome;
  if (f.clientId) query.client_id = f.clientId;
  if (f.q.trim()) query.q = f.q.trim();
  if (f.since !== null) query.since = f.since;
  return query;
}
