// Time as site staff read it: "5 min ago" next to an exact local date and time.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** "just now", "5 min ago", "in 2 h", "3 days ago" — `at` relative to `now` (both Unix ms). */
export function formatRelative(at: number, now: number): string {
  const delta = at - now;
  const abs = Math.abs(delta);
  if (abs < 45_000) return delta > 0 ? 'in a moment' : 'just now';
  let text: string;
  if (abs < HOUR) text = `${Math.max(1, Math.round(abs / MINUTE))} min`;
  else if (abs < DAY) text = `${Math.round(abs / HOUR)} h`;
  else text = plural(Math.round(abs / DAY), 'day');
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** "2025-03-12 14:03:09" in local time: unambiguous whatever the locale. */
export function formatAbsolute(at: number): string {
  const d = new Date(at);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** "0.4 ms", "350 ms", "4.2 s", "2 min 5 s". */
export function formatDuration(ms: number): string {
  // Server batch times are often a few milliseconds: keep a decimal there.
  if (ms < 10) return `${+ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < MINUTE) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / MINUTE);
  const seconds = Math.round((ms % MINUTE) / 1000);
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** The value of an `<input type="datetime-local">` as Unix ms, or null when empty or invalid. */
export function parseLocalDateTime(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}
