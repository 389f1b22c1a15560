import type { CommandError, DeadLetter, ErrorCode, Status, SyncRun } from '../api';
import type { AuditEntry } from '../apiAdmin';

export const NOW = Date.UTC(2025, 2, 12, 14, 0, 0);

export function makeStatus(overrides: Partial<Status> = {}): Status {
  return {
    state: 'idle',
    all_synced: false,
    queue_depth: 0,
    dead_letters: 0,
    last_success_at: null,
    next_run_at: null,
    paused_until: null,
    problem: null,
    message: null,
    warning: null,
    progress: null,
    enrolled: { server: 'https://sync.example.com', client_id: 'site-12' },
    config_version: '3.7',
    ...overrides,
  };
}

export function makeRun(overrides: Partial<SyncRun> = {}): SyncRun {
  return {
    id: 1,
    started_at: NOW - 60_000,
    finished_at: NOW - 58_000,
    trigger: 'schedule',
    outcome: 'synced',
    batches: 1,
    sent: 10,
    applied: 10,
    duplicate: 0,
    stale: 0,
    rejected: 0,
    error: null,
    ...overrides,
  };
}

export function makeDeadLetter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id: 1,
    entity: 'orders',
    record_id: 'A-1001',
    op: 'upsert',
    version: '1732838400123-0000-site12',
    data: '{"total":"twelve"}',
    reason: 'total must be a number',
    at: NOW - 3_600_000,
    ...overrides,
  };
}

export function makeAuditEntry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    seq: 1,
    at: NOW - 1000,
    tenant_id: 1,
    client_id: 'site-12',
    request_id: 'req-1',
    source: '10.0.0.12',
    event: 'sync.batch.applied',
    outcome: 'success',
    details: { applied: 10 },
    hash: 'ab'.repeat(32),
    ...overrides,
  };
}

/** A command's failure as the shell sends it. */
export function commandError(code: ErrorCode, message: string): CommandError {
  return { code, message };
}

/** A promise the test settles when it wants to. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
