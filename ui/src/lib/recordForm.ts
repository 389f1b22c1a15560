// A refused record's data as a form: one field per property, typed by its value (text,
// number, yes/no; lists and groups as JSON), and back to the object to resend.

import { t } from '../messages';

export type FieldKind = 'text' | 'number' | 'boolean' | 'json';

export interface Field {
  key: string;
  kind: FieldKind;
  /** What the input shows (text, number or JSON); unused for yes/no. */
  text: string;
  checked: boolean;
  /** The value was null: an empty text field stays null. */
  wasNull: boolean;
  /** Long or multi-line text (as it came): edited in a text area. */
  long: boolean;
}

/** The fields for a data object, in its order. */
export function toFields(data: Record<string, unknown>): Field[] {
  return Object.entries(data).map(([key, value]) => {
    const base = { key, text: '', checked: false, wasNull: false, long: false };
    if (typeof value === 'string') return { ...base, kind: 'text', text: value, long: value.length > 80 || value.includes('\n') };
    if (typeof value === 'number') return { ...base, kind: 'number', text: String(value) };
    if (typeof value === 'boolean') return { ...base, kind: 'boolean', checked: value };
    if (value === null) return { ...base, kind: 'text', wasNull: true };
    return { ...base, kind: 'json', text: JSON.stringify(value) };
  });
}

export type FormResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; errors: Record<string, string> };

/** The object the fields describe, or what is wrong with each field that cannot be read. */
export function fromFields(fields: Field[]): FormResult {
  const value: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    switch (f.kind) {
      case 'boolean':
        value[f.key] = f.checked;
        break;
      case 'number': {
        const n = Number(f.text);
        if (f.text.trim() === '' || !Number.isFinite(n)) errors[f.key] = t('attention.drawer.badNumber');
        else value[f.key] = n;
        break;
      }
      case 'json':
        try {
          value[f.key] = JSON.parse(f.text);
        } catch {
          errors[f.key] = t('attention.drawer.badJson');
        }
        break;
      default:
        value[f.key] = f.wasNull && f.text === '' ? null : f.text;
    }
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value };
}

/** Whether two data objects are the same (property order aside). */
export function sameData(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const canonical = (v: unknown): unknown =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
      : Array.isArray(v)
        ? v.map(canonical)
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
