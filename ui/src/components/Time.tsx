import { formatAgo, formatDateTime } from '../lib/time';

/** "5 min ago" with the exact local time as its tooltip and for screen readers; `never` when there is no time. */
export function Ago({ at, now, never = 'Never', testId }: { at: number | null; now: number; never?: string; testId?: string }) {
  if (at === null) {
    return <span data-testid={testId}>{never}</span>;
  }
  return (
    <time className="nowrap" data-testid={testId} dateTime={new Date(at).toISOString()} title={formatDateTime(at, true)}>
      {formatAgo(at, now)}
    </time>
  );
}

/** "1 Dec 2026, 14:03", never wrapped. */
export function DateTime({ at, seconds = false }: { at: number; seconds?: boolean }) {
  return (
    <time className="nowrap" dateTime={new Date(at).toISOString()}>
      {formatDateTime(at, seconds)}
    </time>
  );
}
