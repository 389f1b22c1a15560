// The "Add or change a setting" form: its fields and how they become a SetEntry.

import type { ConfigEntry, SetEntry, ValueType } from '../../apiAdmin';
import { formatConfigValue, isMasked } from '../configDiff';
import { t } from '../../messages';

export interface EntryFields {
  scope: string;
  key: string;
  type: ValueType;
  /** The value as typed (for bool: unused, see `flag`). */
  text: string;
  flag: boolean;
  secret: boolean;
  reveal: boolean;
  comment: string;
}

export const EMPTY_FIELDS: EntryFields = {
  scope: 'tenant',
  key: '',
  type: 'string',
  text: '',
  flag: false,
  secret: false,
  reveal: false,
  comment: '',
};

/** The form filled from a current setting (a secret's value is never known: it stays empty). */
export function fieldsFrom(entry: ConfigEntry): EntryFields {
  const known = !entry.secret && !isMasked(entry.value);
  return {
    ...EMPTY_FIELDS,
    scope: entry.scope,
    key: entry.key,
    type: entry.type,
    text: known && entry.type !== 'bool' ? (entry.type === 'json' ? JSON.stringify(entry.value, null, 2) : formatConfigValue(entry.value)) : '',
    flag: entry.value === true,
    secret: entry.secret,
    reveal: entry.reveal,
  };
}

export type Parsed = { ok: true; entry: SetEntry } | { ok: false; error: string };

/** The value typed, as the type says, or why it cannot be sent. */
export function toEntry(f: EntryFields): Parsed {
  if (!f.key.trim()) return { ok: false, error: t('admin.config.form.need_key') };
  let value: unknown;
  switch (f.type) {
    case 'string':
      value = f.text;
      break;
    case 'bool':
      value = f.flag;
      break;
    case 'number': {
      const n = Number(f.text.trim());
      if (!f.text.trim() || !Number.isFinite(n)) return { ok: false, error: t('admin.config.form.bad_number') };
      value = n;
      break;
    }
    case 'json':
      try {
        value = JSON.parse(f.text);
      } catch (e) {
        return { ok: false, error: t('admin.config.form.bad_json', { why: e instanceof Error ? e.message : String(e) }) };
      }
      break;
  }
  return {
    ok: true,
    entry: {
      scope: f.scope,
      key: f.key.trim(),
      value,
      type: f.type,
      secret: f.secret,
      reveal: f.secret && f.reveal,
      comment: f.comment.trim(),
    },
  };
}
