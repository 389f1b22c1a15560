import { useCallback, useId, useState, type KeyboardEvent } from 'react';
import type { SeriesBucket, StatsSeries } from '../../apiAdmin';
import { formatDateTime } from '../../lib/time';
import { t } from '../../messages';
import { SeriesChart } from './SeriesChart';

function describe(b: SeriesBucket): string {
  return t('admin.stats.bucket_values', { at: formatDateTime(b.at), applied: b.applied, rejected: b.rejected, batches: b.batches });
}

export function SeriesTable({ series, id }: { series: StatsSeries; id?: string }) {
  return (
    <div className="table-wrap" id={id}>
      <table className="admin-table" data-testid="stats-series-table">
        <thead>
          <tr>
            <th>{t('admin.stats.col.bucket')}</th>
            <th className="num">{t('admin.stats.series.applied')}</th>
            <th className="num">{t('admin.stats.series.rejected')}</th>
            <th className="num">{t('admin.stats.series.batches')}</th>
          </tr>
        </thead>
        <tbody>
          {series.buckets.map((b) => (
            <tr key={b.at}>
              <td className="nowrap">{formatDateTime(b.at)}</td>
              <td className="num">{b.applied.toLocaleString('en')}</td>
              <td className="num">{b.rejected.toLocaleString('en')}</td>
              <td className="num">{b.batches.toLocaleString('en')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * The series as a chart whose exact values are reachable by keyboard: focus it and the
 * arrow keys move the cursor bucket by bucket (Home / End jump), each bucket's values read
 * out in a live line; "Show as table" lists them all.
 */
export function SeriesExplorer({ series, label }: { series: StatsSeries; label: string }) {
  const [index, setIndex] = useState<number | null>(null);
  const [table, setTable] = useState(false);
  const hintId = useId();
  const tableId = useId();
  const last = series.buckets.length - 1;
  const onHover = useCallback((i: number | null) => setIndex(i), []);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (last < 0) return;
    let next: number;
    if (e.key === 'ArrowRight') next = index === null ? 0 : Math.min(last, index + 1);
    else if (e.key === 'ArrowLeft') next = index === null ? last : Math.max(0, index - 1);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = last;
    else return;
    e.preventDefault();
    setIndex(next);
  };

  const bucket = index !== null ? series.buckets[index] : undefined;
  return (
    <div className="admin-series">
      <div
        className="admin-chart-frame"
        role="group"
        tabIndex={0}
        aria-label={label}
        aria-describedby={hintId}
        data-testid="stats-chart"
        onKeyDown={onKeyDown}
      >
        <SeriesChart series={series} activeIndex={index} onHover={onHover} />
      </div>
      <p id={hintId} className="visually-hidden">
        {t('admin.stats.series_keys')}
      </p>
      <p className="muted admin-series-live" aria-live="polite" data-testid="stats-series-live">
        {bucket ? describe(bucket) : ''}
      </p>
      <button type="button" className="button-small" aria-expanded={table} aria-controls={tableId} data-testid="stats-series-toggle" onClick={() => setTable((v) => !v)}>
        {table ? t('admin.stats.hide_table') : t('admin.stats.show_table')}
      </button>
      {table && <SeriesTable series={series} id={tableId} />}
    </div>
  );
}
