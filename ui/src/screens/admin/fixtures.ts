import type { SiteDetail, SiteSummary } from '../../apiAdmin';
import { NOW } from '../../test/fixtures';

export function makeSite(overrides: Partial<SiteSummary> = {}): SiteSummary {
  return {
    name: 'Store 12',
    client_id: 'kxc_store12',
    scopes: 'sync:write config:read',
    status: 'active',
    role: 'site',
    created_ms: NOW - 30 * 86_400_000,
    revoked_ms: null,
    last_seen_ms: NOW - 5 * 60_000,
    last_batch_ms: NOW - 5 * 60_000,
    last_heartbeat_ms: NOW - 5 * 60_000,
    records_24h: 1200,
    rejected_24h: 0,
    queue_depth: 0,
    oldest_pending_ms: null,
    dead_letters: 0,
    agent_version: '0.9.2',
    interval_secs: 300,
    config_version: '1.3',
    config_drift: false,
    needs_attention: [],
    ...overrides,
  };
}

export function makeDetail(overrides: Partial<SiteDetail> = {}, site: Partial<SiteSummary> = {}): SiteDetail {
  return {
    site: makeSite(site),
    runs: [
      { started_ms: NOW - 60_000, finished_ms: NOW - 58_000, outcome: 'partial', sent: 500, applied: 499, refused: 1, message: 'order A-1 refused' },
    ],
    batches: [
      { received_ms: NOW - 58_000, records: 500, applied: 499, duplicate: 0, stale: 0, rejected: 1, outcome: 'applied' },
    ],
    alerts: [],
    ...overrides,
  };
}
