// The app's wording, in one catalog (English), so the UI can be translated later: screens
// never hold a sentence of their own; they call `t('key', {vars})`. A message is a string
// with `{name}` placeholders, or a function of its variables where grammar needs it
// (plurals, optional parts). `staff.ts` and `admin.ts` hold each mode's messages; the shell's
// are here.

import { STAFF } from './staff';
import { ADMIN } from './admin';

export type Vars = Record<string, string | number>;
export type Message = string | ((vars: Vars) => string);

const SHELL = {
  'app.name': 'Kendrix Sync',
  'nav.label': 'Screens',
  'nav.mode.staff': 'This site',
  'nav.mode.admin': 'Admin',
  'nav.status': 'Status',
  'nav.attention': 'Needs attention',
  'nav.history': 'History',
  'nav.settings': 'Settings',
  'nav.badge': (v) => `${plural(Number(v.n), 'record')} ${Number(v.n) === 1 ? 'needs' : 'need'} attention`,
  'nav.sites': 'Sites',
  'nav.alerts': 'Alerts',
  'nav.site': 'Site',
  'nav.config': 'Configuration',
  'nav.audit': 'Audit log',
  'nav.stats': 'Stats',
  'common.loading': 'Loading…',
  'common.loadingWhat': 'Loading {what}…',
  'common.readRefused': 'This site may not read {what}.',
  'common.readRefused.before': 'The server refused because this PC’s client lacks the ',
  'common.readRefused.after': ' permission. An admin can grant it to the client.',
  'common.retry': 'Try again',
  'common.cancel': 'Cancel',
  'common.close': 'Close',
  'common.copy': 'Copy',
  'common.copied': 'Copied',
} satisfies Record<string, Message>;

export const CATALOG: Record<string, Message> = { ...SHELL, ...STAFF, ...ADMIN };

/** Counts as words: `plural(1, 'record')` → "1 record", `plural(3, 'record')` → "3 records". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/** The message `key` with its variables filled in; an unknown key shows as itself (and fails a test). */
export function t(key: string, vars: Vars = {}): string {
  const message = CATALOG[key];
  if (message === undefined) return key;
  if (typeof message === 'function') return message(vars);
  return message.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}
