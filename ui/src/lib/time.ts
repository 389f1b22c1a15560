// Time, one way everywhere: past times in the past tense ("5 min ago"), times to come in the
// future ("in 3 min"), and exact times in the PC's local time zone in one format,
// "1 Dec 2026, 14:03" (with ":09" seconds where they matter), never wrapped mid-number
// (callers render them with white-space: nowrap, see `.nowrap`).

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function span(abs: number): string {
  if (abs < HOUR) return `${Math.max(1, Math.round(abs / MINUTE))} min`;
  if (abs < DAY) return `${Math.round(abs / HOUR)} h`;
  const days = Math.round(abs / DAY);
  return `${days} ${days === 1 ? 'day' : 'days'}`;
}

/**
 * How long ago something happened: "just now", "5 min ago", "3 h ago", "2 days ago". A past
 * event is always in the past tense, even when the PC's clock is a little behind the
 * server's (a time slightly "in the future" is "just now").
 */
export function formatAgo(at: number, now: number): string {
  const ago = now - at;
  if (ago < 45_000) return 'just now';
  return `${span(ago)} ago`;
}

/** When something is due: "in a moment", "in 5 min"; one overdue reads "due now". */
export function formatDue(at: number, now: number): string {
  const ahead = at - now;
  if (ahead <= 0) return 'due now';
  if (ahead < 45_000) return 'in a moment';
  return `in ${span(ahead)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** "1 Dec 2026, 14:03" in local time; `seconds` adds ":09". */
export function formatDateTime(at: number, seconds = false): string {
  const d = new Date(at);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}, ${time}`;
}

/** "14:03" today, else the date and time as formatDateTime gives it. */
export function formatShort(at: number, now: number): string {
  const d = new Date(at);
  const n = new Date(now);
  const sameDay = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate();
  return sameDay ? `${pad(d.getHours())}:${pad(d.getMinutes())}` : formatDateTime(at);
}

/** "2026-12-01-1403": for file names. */
export function fileStamp(at: number): string {
  const d = new Date(at);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}`;
}

/** "0.4 ms", "350 ms", "3 s", "4.2 s", "2 min 5 s". */
export function formatDuration(ms: number): string {
  // Server batch times are often a few milliseconds: keep a decimal there.
  if (ms < 10) return `${+ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < MINUTE) return `${+(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / MINUTE);
  const seconds = Math.round((ms % MINUTE) / 1000);
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** "70 KB", "512 bytes", "1.2 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The value of an `<input type="datetime-local">` as Unix ms, or null when empty or invalid. */
export function parseLocalDateTime(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}
