import type { ConfigChange, ConfigDiffLine } from '../apiAdmin';

/** What a masked secret looks like in every server answer. */
export const MASKED = '********';

export function isMasked(value: unknown): boolean {
  return value === MASKED;
}

/** A config value as one line of text: strings as they are, everything else as JSON. */
export function formatConfigValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export type DiffGroups = Record<ConfigChange, ConfigDiffLine[]>;

/** Diff lines grouped by change, each group sorted by scope then key. */
export function groupDiff(lines: ConfigDiffLine[]): DiffGroups {
  const groups: DiffGroups = { added: [], removed: [], changed: [] };
  for (const line of lines) groups[line.change]?.push(line);
  const order = (a: ConfigDiffLine, b: ConfigDiffLine) =>
    a.scope.localeCompare(b.scope) || a.key.localeCompare(b.key);
  for (const group of Object.values(groups)) group.sort(order);
  return groups;
}

/** The server's type names: string, number, bool or json. */
function valueType(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return 'json';
  }
}

export interface EffectiveRow { key: string; value: string; type: string; secret: boolean }

/** The rows of the effective configuration from its JSON rendering (an object key → value). */
export function effectiveRows(jsonBody: string): EffectiveRow[] {
  const parsed: unknown = JSON.parse(jsonBody);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('the effective configuration is not a JSON object');
  }
  return Object.entries(parsed as Record<string, unknown>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => ({
      key,
      value: formatConfigValue(value),
      type: valueType(value),
      secret: isMasked(value),
    }));
}
