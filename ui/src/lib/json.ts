export type JsonObjectCheck =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; error: string };

/** Whether `text` is a JSON object (not an array, string or number), with a reason if not. */
export function parseJsonObject(text: string): JsonObjectCheck {
  if (!text.trim()) return { ok: false, error: 'The data is empty; a record needs a JSON object.' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `Not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: 'The data must be a JSON object, like {"total": 12.5}.' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/** JSON text pretty-printed with two spaces, or the text as it is when it is not JSON. */
export function prettyJson(text: string | null): string {
  if (text === null) return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
