// Records the server refused ("dead letters"), for staff: the engine's reason in plain words,
// refused records grouped by reason, and a record named without the sync protocol's words
// (no versions, no "upsert" / "delete").
//
// The reasons come from the server's batch check (crates/core/src/sync: `"data" is 70012
// bytes; at most 65536 are accepted`, `"data" is nested deeper than 32 levels`, `"id" …`,
// joined with "; " when a record has several) or its per-record answer (any text; the
// engine stores "rejected by the server" when there was none).

import type { DeadLetter } from '../api';
import { t } from '../messages';
import { formatBytes } from './time';

/** "order_lines" → "Order lines". */
export function humanName(name: string): string {
  const words = name.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The record's data as an object, or null (a removal, or data that is not a JSON object). */
export function dataObject(letter: DeadLetter): Record<string, unknown> | null {
  if (letter.data === null) return null;
  try {
    const value: unknown = JSON.parse(letter.data);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depth));
}

/** The property of the data that weighs (or nests) the most, as staff read it ("Note"). */
function heaviest(letter: DeadLetter, measure: (value: unknown) => number): string | null {
  const data = dataObject(letter);
  if (!data) return null;
  let best: string | null = null;
  let most = -1;
  for (const [key, value] of Object.entries(data)) {
    const m = measure(value);
    if (m > most) {
      most = m;
      best = key;
    }
  }
  return best === null ? null : humanName(best);
}

const size = (value: unknown) => JSON.stringify(value)?.length ?? 0;

interface Rule {
  pattern: RegExp;
  plain: (m: RegExpMatchArray, letter: DeadLetter) => string;
  heading: (m: RegExpMatchArray) => string;
}

const RULES: Rule[] = [
  {
    pattern: /"data" is (\d+) bytes; at most (\d+) are accepted/,
    plain: (m, letter) => {
      const vars = { size: formatBytes(Number(m[1])), limit: formatBytes(Number(m[2])) };
      const field = heaviest(letter, size);
      return field ? t('attention.reason.size', { field, ...vars }) : t('attention.reason.sizeRecord', vars);
    },
    heading: (m) => t('attention.group.size', { limit: formatBytes(Number(m[2])) }),
  },
  {
    pattern: /"data" is nested deeper than (\d+) levels/,
    plain: (m, letter) => {
      const field = heaviest(letter, depth);
      return field ? t('attention.reason.depth', { field, limit: m[1] }) : t('attention.reason.depthRecord', { limit: m[1] });
    },
    heading: (m) => t('attention.group.depth', { limit: m[1] }),
  },
  {
    pattern: /an upsert needs "data": a JSON object/,
    plain: () => t('attention.reason.noData'),
    heading: () => t('attention.reason.noData'),
  },
  {
    pattern: /"id" is longer than (\d+) bytes/,
    plain: (m) => t('attention.reason.idLong', { limit: formatBytes(Number(m[1])) }),
    heading: (m) => t('attention.reason.idLong', { limit: formatBytes(Number(m[1])) }),
  },
  {
    pattern: /"id" contains the control character U\+[0-9A-F]+; ids must be printable text/,
    plain: () => t('attention.reason.idControl'),
    heading: () => t('attention.reason.idControl'),
  },
  {
    pattern: /"id" must not be empty/,
    plain: () => t('attention.reason.idEmpty'),
    heading: () => t('attention.reason.idEmpty'),
  },
  {
    pattern: /"entity" must match \S+/,
    plain: () => t('attention.reason.entity'),
    heading: () => t('attention.reason.entity'),
  },
  {
    pattern: /the same record appears earlier in this batch; send one change per record/,
    plain: () => t('attention.reason.twice'),
    heading: () => t('attention.reason.twice'),
  },
  {
    pattern: /^rejected by the server$/,
    plain: () => t('attention.reason.refused'),
    heading: () => t('attention.reason.refused'),
  },
];

/** A reason the app does not know, made readable: `"total" must be a number` → "Total must be a number". */
function readable(text: string): string {
  const words = text.trim().replace(/"([A-Za-z_][A-Za-z0-9_]*)"/g, (_, name: string) => humanName(name).toLowerCase());
  return words.charAt(0).toUpperCase() + words.slice(1);
}

interface Explained {
  heading: string;
  plain: string;
}

function explain(letter: DeadLetter): Explained {
  let rest = letter.reason;
  const known: { rule: Rule; m: RegExpMatchArray }[] = [];
  for (const rule of RULES) {
    const m = rest.match(rule.pattern);
    if (!m) continue;
    known.push({ rule, m });
    rest = rest.replace(m[0], '');
  }
  rest = rest.replace(/^[\s;]+|[\s;]+$/g, '').replace(/(;\s*){2,}/g, '; ');
  const sentences = known.map(({ rule, m }) => rule.plain(m, letter));
  if (rest) sentences.push(readable(rest));
  if (sentences.length === 0) sentences.push(t('attention.reason.refused'));
  const first = known[0];
  // Records refused for the same known reason (and limit) share a group: its heading names no
  // record's own figures. A record with several reasons, or an unknown one, groups by its words.
  const heading = first && !rest && known.length === 1 ? first.rule.heading(first.m) : sentences.join('. ');
  return { heading, plain: sentences.join('. ') };
}

/** Why the server refused this record, in plain words: "Note is 68 KB; the limit is 64 KB". */
export function plainReason(letter: DeadLetter): string {
  return explain(letter).plain;
}

/** The record as staff name it: "Orders A-1001", or "Removal of orders A-1001". */
export function recordLabel(letter: DeadLetter): string {
  const entity = humanName(letter.entity);
  if (letter.op === 'delete') return t('attention.record.removal', { entity: entity.toLowerCase(), id: letter.record_id });
  return t('attention.record', { entity, id: letter.record_id });
}

export interface RefusedGroup {
  key: string;
  /** The reason, as the group's heading. */
  heading: string;
  letters: DeadLetter[];
}

/** Refused records grouped by reason: the largest group first, each oldest refusal first. */
export function groupRefused(letters: DeadLetter[]): RefusedGroup[] {
  const groups = new Map<string, RefusedGroup>();
  for (const letter of letters) {
    const { heading } = explain(letter);
    const key = heading;
    const group = groups.get(key) ?? { key, heading, letters: [] };
    group.letters.push(letter);
    groups.set(key, group);
  }
  const out = [...groups.values()];
  for (const g of out) g.letters.sort((a, b) => a.at - b.at || a.id - b.id);
  return out.sort((a, b) => b.letters.length - a.letters.length || a.letters[0].at - b.letters[0].at);
}
