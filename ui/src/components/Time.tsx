import { formatAbsolute, formatRelative } from '../lib/time';

/** "5 min ago (2025-03-12 14:03:09)", or `never` when there is no time. */
export function RelativeTime({
  at,
  now,
  never = 'Never',
  testId,
}: {
  at: number | null;
  now: number;
  never?: string;
  testId?: string;
}) {
  if (at === null) {
    return <span data-testid={testId}>{never}</span>;
  }
  return (
    <span data-testid={testId}>
      <time dateTime={new Date(at).toISOString()}>{formatRelative(at, now)}</time>{' '}
      <span className="muted">({formatAbsolute(at)})</span>
    </span>
  );
}
