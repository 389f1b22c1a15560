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
 * What kind of failure a command met: a Problem, or `not_enrolled`, `no_admin` (no admin
 * signed in), `invalid` (the input; a 400), `not_found` (a 404), `conflict` (a 409),
 * `other_site` (an enrollment string for another site: confirm first); `unknown` when the
 * shell gave no code.
 */
export type ErrorCode =
  | Problem | 'not_enrolled' | 'no_admin' | 'invalid' | 'not_found' | 'conflict' | 'other_site'
  | 'unknown';

/** How every command fails. */
export interface CommandError { code: ErrorCode; message: string }

/** The one way to call the shell: every failure rejects as a CommandError (apiAdmin.ts uses it too). */
export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
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

/** Screens the tray or a notification click asks for (event `navigate`, payload a route such as `attention`). */
export function onNavigate(cb: (route: string) => void): Promise<() => void> {
  return listen<string>('navigate', (event) => cb(event.payload));
}

/** Listens to an event the Rust side emits while it works (e.g. `export-progress`). */
export function onEvent<T>(name: string, cb: (payload: T) => void): Promise<() => void> {
  return listen<T>(name, (event) => cb(event.payload));
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

/**
 * Enrolls this PC as a site with a pasted `kendrix1:…` string; the secret goes to the OS
 * keychain. A string for another site than the one enrolled is refused with the code
 * `other_site` unless `replace` is true (the UI asks staff first: "Change site…").
 */
export function enroll(enrollment: string, replace = false): Promise<Status> {
  return call<Status>('enroll', { enrollment, replace });
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

// ---- Identities: the site this PC syncs as, and the admin signed in on it -----------------

/** The site identity; `name`/`tenant` are what the server said at the last check (null before). */
export interface SiteIdentity { server: string; client_id: string; name: string | null; tenant: string | null }
/** The admin credential kept on this PC (its own keychain entries, apart from the site's). */
export interface AdminIdentity { server: string; client_id: string; name: string | null; tenant: string | null }
/** Who this PC is: a site, an admin console, both, or neither yet. */
export interface Identities { site: SiteIdentity | null; admin: AdminIdentity | null }

/** Read locally (no request): which identities are enrolled. */
export function identities(): Promise<Identities> {
  return call<Identities>('identities');
}

/** The answer to Settings → "Check connection". */
export interface ConnectionCheck {
  /** The server answered and accepted this PC's credentials. */
  ok: boolean;
  /** The site's name and tenant as the server knows them (null when the check failed). */
  name: string | null;
  tenant: string | null;
  /** The round trip, in milliseconds. */
  latency_ms: number;
  /** Why the check failed, in plain words (null when ok). */
  message: string | null;
  problem: Problem | null;
}

/** Asks the server who this site is (a token and `GET /whoami`); names are remembered. */
export function checkConnection(): Promise<ConnectionCheck> {
  return call<ConnectionCheck>('check_connection');
}

/**
 * Signs in as admin with an admin enrollment string (a credential with `clients:admin`):
 * kept in the keychain apart from the site's; the site enrollment is untouched.
 */
export function adminEnroll(enrollment: string): Promise<AdminIdentity> {
  return call<AdminIdentity>('admin_enroll', { enrollment });
}

/** Forgets the admin credential; the site enrollment and its queue stay. */
export function adminSignOut(): Promise<void> {
  return call<void>('admin_sign_out');
}

// ---- Files: native save dialog, written by the Rust side -----------------------------------

/** Where a file was saved; null when the user cancelled the dialog. */
export interface SavedFile { path: string; bytes: number }

/**
 * Writes a support bundle (versions, status, last runs, settings, the log tail — no secrets)
 * to a file the user picks in the native save dialog.
 */
export function saveDiagnostics(): Promise<SavedFile | null> {
  return call<SavedFile | null>('save_diagnostics');
}

/** Shows the file in the system's file manager ("Open folder"). */
export function revealFile(path: string): Promise<void> {
  return call<void>('reveal_file', { path });
}

// ---- App settings -------------------------------------------------------------------------

export function getSettings(): Promise<AppSettings> {
  return call<AppSettings>('settings');
}

export function saveSettings(s: AppSettings): Promise<void> {
  return call<void>('save_settings', { settings: s });
}
