// The one module that talks to the Tauri shell. Every screen calls these typed functions;
// nothing else imports @tauri-apps/api (an ESLint rule enforces it).
//
// Field names are snake_case because that is how the Rust side serializes them; times are
// Unix milliseconds. Argument objects use camelCase keys, which Tauri v2 maps to the Rust
// command's snake_case parameters. A failed command rejects with a CommandError: screens
// decide on its `code` and show its `message` as it is (never read it to decide).

import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { asCommandError } from './lib/errors';

// ---- Errors -------------------------------------------------------------------------------

/** What kind of problem puts the agent in the error or offline state (`Status.problem`). */
export type Problem = 'auth' | 'permission' | 'offline' | 'refused' | 'keychain' | 'disk' | 'local';

/**
 * What kind of failure a command met: a Problem, or `not_enrolled`, `invalid` (the input),
 * `not_found`, `unreadable` (the server's answer); `unknown` when the shell gave no code.
 */
export type ErrorCode = Problem | 'not_enrolled' | 'invalid' | 'not_found' | 'unreadable' | 'unknown';

/** How every command fails. */
export interface CommandError { code: ErrorCode; message: string }

/** The one way to call the shell: every failure rejects as a CommandError. */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw asCommandError(e);
  }
}

// ---- Agent status -------------------------------------------------------------------------

export type SyncState = 'idle' | 'syncing' | 'paused' | 'offline' | 'error';
export interface Progress { sent: number; total: number }
export interface Enrolled { server: string; client_id: string }
export interface Status {
  state: SyncState; all_synced: boolean; queue_depth: number; dead_letters: number;
  last_success_at: number | null; next_run_at: number | null; paused_until: number | null;
  problem: Problem | null;     // what kind of problem error/offline is: decide on this
  message: string | null;      // why error/offline/paused, in plain words
  warning: string | null;      // e.g. audit witness warning
  progress: Progress | null;   // while syncing
  enrolled: Enrolled | null;   // null = not enrolled yet
  config_version: string | null;
}
export type RunOutcome = 'synced' | 'partial' | 'offline' | 'auth' | 'error';
export interface SyncRun { id: number; started_at: number; finished_at: number | null; trigger: 'manual' | 'schedule'; outcome: RunOutcome | null; batches: number; sent: number; applied: number; duplicate: number; stale: number; rejected: number; error: string | null }
export interface DeadLetter { id: number; entity: string; record_id: string; op: 'upsert' | 'delete'; version: string; data: string | null; reason: string; at: number }
export interface AppSettings { autostart: boolean; notifications: boolean; interval_seconds: number | null /* null = server's */ }

/** The agent's current status. */
export function getStatus(): Promise<Status> {
  return call<Status>('status');
}

/** Calls `cb` with every status the agent emits; resolves to the function that stops listening. */
export function onStatus(cb: (s: Status) => void): Promise<() => void> {
  return listen<Status>('status', (event) => cb(event.payload));
}

/** Runs a sync now and resolves when it has finished. */
export function syncNow(): Promise<SyncRun> {
  return call<SyncRun>('sync_now');
}

/** Pauses scheduled syncs for `minutes`, or until resumed when `minutes` is null. */
export function pause(minutes: number | null): Promise<void> {
  return call<void>('pause', { minutes });
}

export function resume(): Promise<void> {
  return call<void>('resume');
}

/** Enrolls with a pasted `kendrix1:…` string; the secret goes to the OS keychain. */
export function enroll(enrollment: string): Promise<Status> {
  return call<Status>('enroll', { enrollment });
}

/** The most recent local sync runs, newest first. */
export function history(limit: number): Promise<SyncRun[]> {
  return call<SyncRun[]>('history', { limit });
}

export function deadLetters(): Promise<DeadLetter[]> {
  return call<DeadLetter[]>('dead_letters');
}

/** Puts dead letters back in the outbox unchanged. */
export function retryDeadLetters(ids: number[]): Promise<void> {
  return call<void>('retry_dead_letters', { ids });
}

/** Drops dead letters for good: they are never sent. */
export function discardDeadLetters(ids: number[]): Promise<void> {
  return call<void>('discard_dead_letters', { ids });
}

/** Replaces a dead letter's data (the text of a JSON object) and resends it. */
export function fixDeadLetter(id: number, data: string): Promise<void> {
  return call<void>('fix_dead_letter', { id, data });
}

// ---- Server audit log (GET /audit/logs, /audit/export) ------------------------------------

export type AuditOutcome = 'success' | 'failure';

/** The server's audit filter; omitted fields do not filter. */
export interface AuditQuery {
  /** Entries at or after this time (Unix ms). */
  since?: number | null;
  /** Entries before this time (Unix ms). */
  until?: number | null;
  /** Event names, comma-separated (docs/audit-events.md). */
  event?: string | null;
  client_id?: string | null;
  outcome?: AuditOutcome | null;
  /** Words that must all appear in the event, client id or details. */
  q?: string | null;
  /** The `next` cursor of the previous page. */
  cursor?: string | null;
  /** Page size, 1 to 1000 (server default 100). */
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

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Pass as `cursor` for the next (older) page; null or absent on the last page. */
  next?: string | null;
}

export function auditLogs(q: AuditQuery): Promise<AuditPage> {
  return call<AuditPage>('audit_logs', { query: q });
}

/** Every entry the filter selects, as CSV or NDJSON text. */
export function auditExport(q: AuditQuery, format: 'csv' | 'ndjson'): Promise<string> {
  return call<string>('audit_export', { query: q, format });
}

// ---- Configuration (GET /config, /config/versions, /config/diff) --------------------------

export type ConfigFormat = 'json' | 'xml' | 'ini';

export interface EffectiveConfig {
  /** The rendering; in JSON an object of key → value, secrets shown as `********`. */
  body: string;
  /** `<global version>.<tenant version>` (X-Config-Version). */
  version: string;
  etag: string;
}

export interface ConfigVersion {
  version: number;
  author: string;
  at: number;
  comment: string;
  content_hash: string;
}

export type ConfigChange = 'added' | 'removed' | 'changed';

export interface ConfigDiffLine {
  /** `global`, `tenant` or `client:<client id>`. */
  scope: string;
  key: string;
  change: ConfigChange;
  from: unknown;
  to: unknown;
}

export function configEffective(format: ConfigFormat): Promise<EffectiveConfig> {
  return call<EffectiveConfig>('config_effective', { format });
}

/** The tenant's configuration versions, newest first. */
export function configVersions(): Promise<ConfigVersion[]> {
  return call<ConfigVersion[]>('config_versions');
}

export function configDiff(from: number, to: number): Promise<ConfigDiffLine[]> {
  return call<ConfigDiffLine[]>('config_diff', { from, to });
}

// ---- Statistics (GET /sync/stats, /auth/stats) --------------------------------------------

export interface SyncFigures {
  batches: number;
  /** Batches refused as a whole (invalid records). */
  refused_batches: number;
  records: number;
  applied: number;
  duplicate: number;
  stale: number;
  rejected: number;
  /** Median time to apply a batch, in milliseconds (0 when there were no batches). */
  p50_batch_ms: number;
  p95_batch_ms: number;
}

export interface ClientSyncFigures extends SyncFigures { client_id: string }

export interface EntitySyncFigures {
  client_id: string;
  entity: string;
  applied: number;
  duplicate: number;
  stale: number;
  rejected: number;
}

export interface SyncWindow {
  /** `1h`, `24h` or `7d`. */
  window: string;
  since: number;
  total: SyncFigures;
  per_client: ClientSyncFigures[];
  per_entity: EntitySyncFigures[];
}

export interface SyncStats { tenant_id: number; windows: SyncWindow[] }

export interface AuthCounts {
  issued: number;
  refreshed: number;
  failed: number;
  revoked: number;
  refresh_reuse: number;
  rate_limited: number;
}

export interface ClientAuthCounts extends AuthCounts { client_id: string | null }

export interface AuthWindow {
  /** `1h`, `24h` or `7d`. */
  window: string;
  since: number;
  total: AuthCounts;
  per_client: ClientAuthCounts[];
}

export interface AuthStats { tenant_id: number; windows: AuthWindow[] }

export function syncStats(): Promise<SyncStats> {
  return call<SyncStats>('sync_stats');
}

export function authStats(): Promise<AuthStats> {
  return call<AuthStats>('auth_stats');
}

// ---- App settings -------------------------------------------------------------------------

export function getSettings(): Promise<AppSettings> {
  return call<AppSettings>('settings');
}

export function saveSettings(s: AppSettings): Promise<void> {
  return call<void>('save_settings', { settings: s });
}
