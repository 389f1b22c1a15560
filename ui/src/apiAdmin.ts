// The admin console's calls. They go out with the admin credential (Settings → "Sign in as
// admin"), never the site's: the Rust side (`src-tauri/src/admin.rs`) sends each through
// one command, `admin_request`, which only lets the admin API's own paths through. A call
// made with no admin signed in rejects with the code `no_admin`; a 403 arrives as
// `permission`; a 404 as `not_found`; a 409 as `conflict`; a 400 as `invalid`.
//
// Field names are snake_case as the server sends them; times are Unix milliseconds.

import { call, type SavedFile } from './api';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One request to the server with the admin credential; resolves to the parsed JSON answer (null for 204). */
async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  // Awaited here so every call returns a promise, whatever `call` gives back.
  return await call<T>('admin_request', { method, path, body: body ?? null });
}

/** `?a=1&b=x` from the set values of `params` (empty and null ones left out). */
export function queryString(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// ---- Sites (GET/POST /admin/sites, …) ------------------------------------------------------

export interface SiteSummary {
  name: string;
  client_id: string;
  scopes: string;
  /** `active` or `revoked`. */
  status: string;
  /** `site` or `admin`. */
  role: string;
  created_ms: number;
  revoked_ms: number | null;
  /** The site's last request of any kind (token, batch, heartbeat). */
  last_seen_ms: number | null;
  last_batch_ms: number | null;
  last_heartbeat_ms: number | null;
  records_24h: number;
  rejected_24h: number;
  /** From the last heartbeat (null: never reported). */
  queue_depth: number | null;
  oldest_pending_ms: number | null;
  dead_letters: number | null;
  agent_version: string | null;
  interval_secs: number;
  /** The configuration version the site runs, `<global>.<tenant>`. */
  config_version: string;
  config_drift: boolean;
  /** Plain reasons, e.g. "never synced", "queue growing"; empty: all well. */
  needs_attention: string[];
}

/** A run as the site reported it in a heartbeat. */
export interface ReportedRun {
  started_ms: number;
  finished_ms: number;
  outcome: string;
  sent: number;
  applied: number;
  refused: number;
  message: string | null;
}

export interface BatchView {
  received_ms: number;
  records: number;
  applied: number;
  duplicate: number;
  stale: number;
  rejected: number;
  outcome: string;
}

export interface SiteDetail {
  site: SiteSummary;
  /** Newest first, at most 20. */
  runs: ReportedRun[];
  batches: BatchView[];
  alerts: unknown[];
}

/** Shown once: the secret is inside `enrollment` and is never shown again. */
export interface Registration {
  client_id: string;
  name: string;
  scopes: string;
  tenant_id: number;
  enrollment: string;
}

export interface Rotation {
  client_id: string;
  enrollment: string;
  /** Until when the old secret still works (null: it stopped at once). */
  previous_secret_until_ms: number | null;
}

/** One page of the fleet (`GET /admin/sites`) and how many sites the tenant has. */
export interface FleetPage {
  /** Those needing attention first, then the well, then the revoked; by name. */
  sites: SiteSummary[];
  /** Pass as `after` for the next page; null on the last page. */
  next_after: string | null;
  counts: { sites: number; needs_attention: number; revoked: number };
}

export interface FleetQuery {
  /** Only the sites that need attention. */
  attention?: boolean;
  /** Words each site's name or client id contains. */
  q?: string;
  /** The previous page's `next_after`. */
  after?: string | null;
  /** 1 to 500; the server's default is 100. */
  limit?: number;
}

export function sites(query: FleetQuery = {}): Promise<FleetPage> {
  return request<FleetPage>(
    'GET',
    `/admin/sites${queryString({ attention: query.attention || null, q: query.q?.trim(), after: query.after, limit: query.limit })}`,
  );
}

/** A client of the tenant by name (`GET /admin/site-names`): for naming ids wherever they appear. */
export interface SiteName {
  client_id: string;
  name: string;
  /** `site` or `admin`. */
  role: string;
  /** `active` or `revoked`. */
  status: string;
}

export async function siteNames(): Promise<SiteName[]> {
  return (await request<{ names: SiteName[] }>('GET', '/admin/site-names')).names;
}

export function site(clientId: string): Promise<SiteDetail> {
  return request<SiteDetail>('GET', `/admin/sites/${encodeURIComponent(clientId)}`);
}

/** Registers a site with the site scopes (`sync:write config:read`). */
export function registerSite(name: string): Promise<Registration> {
  return request<Registration>('POST', '/admin/sites', { name });
}

export function revokeSite(clientId: string): Promise<unknown> {
  return request<unknown>('POST', `/admin/sites/${encodeURIComponent(clientId)}/revoke`, {});
}

/** A new secret; the old one keeps working for `graceSeconds` (0 to 30 days; 0 stops it now). */
export function rotateSecret(clientId: string, graceSeconds: number): Promise<Rotation> {
  return request<Rotation>('POST', `/admin/sites/${encodeURIComponent(clientId)}/rotate-secret`, {
    grace_seconds: graceSeconds,
  });
}

// ---- Configuration (GET /config/versions…, PUT/DELETE /config/entries, POST /config/rollback)

export type ValueType = 'string' | 'number' | 'bool' | 'json';

export interface ConfigVersion { version: number; author: string; at: number; comment: string; content_hash: string }

export interface ConfigEntry {
  /** `global`, `tenant` or `client:<client id>`. */
  scope: string;
  key: string;
  type: ValueType;
  /** Secrets arrive as `********`. */
  value: unknown;
  secret: boolean;
  reveal: boolean;
}

export interface VersionDetail extends ConfigVersion { entries: ConfigEntry[] }

export type ConfigChange = 'added' | 'removed' | 'changed';
export interface ConfigDiffLine { scope: string; key: string; change: ConfigChange; from: unknown; to: unknown }

export interface Renderings { json: Record<string, unknown>; xml: string; ini: string }

/** What a change would do; nothing was written. */
export interface DryRunView {
  dry_run: true;
  version: number;
  diff: ConfigDiffLine[];
  rendered_for: string;
  renderings: Renderings;
}

/** A site not running the current configuration. */
export interface DriftLine {
  client_id: string;
  name: string;
  expected_hash: string;
  reported_hash: string | null;
  reported_at: number | null;
}

export interface SetEntry {
  /** `tenant` or `client:<client id>`. */
  scope: string;
  key: string;
  value: unknown;
  type: ValueType;
  secret: boolean;
  reveal: boolean;
  comment: string;
}

export function configVersions(): Promise<ConfigVersion[]> {
  return request<ConfigVersion[]>('GET', '/config/versions');
}

export function configVersion(version: number): Promise<VersionDetail> {
  return request<VersionDetail>('GET', `/config/versions/${version}`);
}

export function configDiff(from: number, to: number): Promise<ConfigDiffLine[]> {
  return request<ConfigDiffLine[]>('GET', `/config/diff${queryString({ from, to })}`);
}

export function configDrift(): Promise<DriftLine[]> {
  return request<DriftLine[]>('GET', '/config/drift');
}

/** `dryRun`: answers a DryRunView and writes nothing; else the new version. */
export function setEntry(entry: SetEntry, dryRun: boolean): Promise<DryRunView | ConfigVersion> {
  return request('PUT', `/config/entries${queryString({ dry_run: dryRun || null })}`, entry);
}

export function unsetEntry(scope: string, key: string, comment: string, dryRun: boolean): Promise<DryRunView | ConfigVersion> {
  return request('DELETE', `/config/entries${queryString({ scope, key, comment, dry_run: dryRun || null })}`);
}

export function rollback(to: number, comment: string, dryRun: boolean): Promise<DryRunView | ConfigVersion> {
  return request('POST', `/config/rollback${queryString({ dry_run: dryRun || null })}`, { to, comment });
}

// ---- Audit (GET /audit/logs, /audit/verify; export through the Rust side) -----------------

export type AuditOutcome = 'success' | 'failure';

/** The server's audit filter; omitted fields do not filter. */
export interface AuditQuery {
  since?: number | null;
  until?: number | null;
  /** Event names, comma-separated (docs/audit-events.md). */
  event?: string | null;
  client_id?: string | null;
  outcome?: AuditOutcome | null;
  /** Words that must all appear in the event, client id or details. */
  q?: string | null;
  cursor?: string | null;
  /** 1 to 1000 (server default 100). */
  limit?: number | null;
}

export interface AuditEntry {
  seq: number;
  at: number;
  tenant_id: number | null;
  client_id: string | null;
  request_id: string | null;
  source: string | null;
  event: string;
  outcome: string;
  details: unknown;
  hash: string;
}

export interface AuditPage { entries: AuditEntry[]; next?: string | null }

/** `GET /audit/verify`: the whole chain checked from its start (or last retention
 * checkpoint), reported as the tenant's own evidence. */
export interface ChainVerification {
  ok: boolean;
  /** The tenant's own entries among those checked. */
  entries_checked: number;
  /** The tenant's newest entry checked (null when it has none). */
  last_seq: number | null;
  last_hash: string | null;
  /** The first entry that does not fit, and why (null when ok). */
  first_broken: { seq: number; reason: string } | null;
}

export function auditLogs(q: AuditQuery): Promise<AuditPage> {
  return request<AuditPage>('GET', `/audit/logs${queryString({ ...q })}`);
}

export function auditVerify(): Promise<ChainVerification> {
  return request<ChainVerification>('GET', '/audit/verify');
}

/** Progress of an export (event `export-progress`). */
export interface ExportProgress { bytes: number }

/**
 * Streams every entry the filter selects (CSV or NDJSON) to a file the user picks in the
 * native save dialog; progress arrives as `export-progress` events. Null: cancelled.
 */
export async function exportAudit(q: AuditQuery, format: 'csv' | 'ndjson'): Promise<SavedFile | null> {
  return await call<SavedFile | null>('admin_export_audit', { query: q, format });
}

/** A compliance report's two files, once saved (`GET /audit/report`). */
export interface SavedReport { report: SavedFile; evidence: SavedFile }

/** Saves the compliance report of `[since, until)`: the page where the admin picks, the signed evidence beside it; null when cancelled. */
export async function saveReport(since: number, until: number): Promise<SavedReport | null> {
  return await call<SavedReport | null>('admin_save_report', { since, until });
}

// ---- Statistics (GET /sync/stats, /auth/stats, /stats/series) -----------------------------

export type StatsWindow = '1h' | '24h' | '7d';

export interface SyncFigures {
  batches: number; refused_batches: number; records: number; applied: number; duplicate: number;
  stale: number; rejected: number; p50_batch_ms: number; p95_batch_ms: number;
}
export interface ClientSyncFigures extends SyncFigures { client_id: string }
export interface EntitySyncFigures { client_id: string; entity: string; applied: number; duplicate: number; stale: number; rejected: number }
export interface SyncWindow { window: StatsWindow; since: number; total: SyncFigures; per_client: ClientSyncFigures[]; per_entity: EntitySyncFigures[] }
export interface SyncStats { tenant_id: number; windows: SyncWindow[] }

export interface AuthCounts { issued: number; refreshed: number; failed: number; revoked: number; refresh_reuse: number; rate_limited: number }
export interface ClientAuthCounts extends AuthCounts { client_id: string | null }
export interface AuthWindow { window: StatsWindow; since: number; total: AuthCounts; per_client: ClientAuthCounts[] }
export interface AuthStats { tenant_id: number; windows: AuthWindow[] }

/** One time bucket of the series: counts of what happened in [at, at + bucket_ms). */
export interface SeriesBucket {
  at: number;
  batches: number;
  refused_batches: number;
  applied: number;
  duplicate: number;
  stale: number;
  rejected: number;
  tokens_issued: number;
  auth_failed: number;
}

/** `GET /stats/series?window=…`: `1h` in 5-minute buckets, `24h` hourly, `7d` in 6-hour buckets; every bucket present, oldest first. */
export interface StatsSeries { window: StatsWindow; since: number; bucket_ms: number; buckets: SeriesBucket[] }

// ---- Alerts (GET /alerts) --------------------------------------------------------------

/** An anomaly the server found in one site's activity (or in the audit chain). */
export interface AlertView {
  id: number;
  /** `auth_failures`, `token_rate`, `refused_records`, `refused_batches`, `stale`, `backlog`, `audit_chain`. */
  kind: string;
  /** `open` or `resolved`. */
  state: string;
  /** The site it is about; null for all the tenant's sites together, or the server (`audit_chain`). */
  client_id: string | null;
  site_name: string | null;
  opened_at: number;
  resolved_at: number | null;
  /** The value observed, and the baseline (the threshold it crossed). */
  observed: number;
  baseline: number;
  summary: string;
}

/** The tenant's alerts, open ones first; `state` narrows them. */
export function alerts(state: 'open' | 'resolved' | null): Promise<AlertView[]> {
  return request('GET', `/alerts${queryString({ state, limit: 200 })}`);
}

export function syncStats(): Promise<SyncStats> {
  return request<SyncStats>('GET', '/sync/stats');
}

export function authStats(): Promise<AuthStats> {
  return request<AuthStats>('GET', '/auth/stats');
}

export function statsSeries(window: StatsWindow, clientId?: string | null): Promise<StatsSeries> {
  return request<StatsSeries>('GET', `/stats/series${queryString({ window, client_id: clientId })}`);
}
