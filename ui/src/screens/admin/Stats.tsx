import { useCallback, useState } from 'react';
import { authStats, statsSeries, syncStats, type AuthWindow, type StatsWindow, type SyncWindow } from '../../apiAdmin';
import { Busy } from '../../components/admin/Busy';
import { SeriesExplorer } from '../../components/admin/SeriesExplorer';
import { Empty, ErrorBanner } from '../../components/States';
import { nameOf, useSites, type SiteNames } from '../../lib/admin/sites';
import { hrefFor } from '../../lib/route';
import { formatDuration } from '../../lib/time';
import { useAsync } from '../../lib/useAsync';
import { t } from '../../messages';

const WINDOWS: { window: StatsWindow; label: string; bucket: string }[] = [
  { window: '1h', label: 'admin.stats.window.1h', bucket: 'admin.stats.bucket.5m' },
  { window: '24h', label: 'admin.stats.window.24h', bucket: 'admin.stats.bucket.1h' },
  { window: '7d', label: 'admin.stats.window.7d', bucket: 'admin.stats.bucket.6h' },
];

function Figure({ label, value, testId, bad }: { label: string; value: string; testId?: string; bad?: boolean }) {
  return (
    <div className="admin-card admin-total">
      <dt>{label}</dt>
      <dd className={bad ? 'admin-figure admin-bad' : 'admin-figure'} data-testid={testId}>
        {value}
      </dd>
    </div>
  );
}

function Totals({ sync, auth }: { sync: SyncWindow | undefined; auth: AuthWindow | undefined }) {
  const n = (v: number | undefined) => (v ?? 0).toLocaleString('en');
  const s = sync?.total;
  const latency = s && s.batches > 0 ? `${formatDuration(s.p50_batch_ms)} / ${formatDuration(s.p95_batch_ms)}` : t('admin.common.none');
  return (
    <dl className="admin-totals">
      <Figure label={t('admin.stats.total.batches')} value={n(s?.batches)} testId="stats-total-batches" />
      <Figure label={t('admin.stats.total.applied')} value={n(s?.applied)} testId="stats-total-applied" />
      <Figure label={t('admin.stats.total.rejected')} value={n(s?.rejected)} testId="stats-total-rejected" bad={!!s?.rejected} />
      <Figure label={t('admin.stats.total.refused_batches')} value={n(s?.refused_batches)} bad={!!s?.refused_batches} />
      <Figure label={t('admin.stats.total.duplicate')} value={n((s?.duplicate ?? 0) + (s?.stale ?? 0))} />
      <Figure label={t('admin.stats.total.latency')} value={latency} />
      <Figure label={t('admin.stats.total.signins')} value={n(auth?.total.issued)} testId="stats-total-signins" />
      <Figure label={t('admin.stats.total.signin_failures')} value={n(auth?.total.failed)} bad={!!auth?.total.failed} />
    </dl>
  );
}

function PerSite({ sync, auth, names }: { sync: SyncWindow; auth: AuthWindow | undefined; names: SiteNames }) {
  if (sync.per_client.length === 0) return <Empty title={t('admin.stats.per_site_empty')} />;
  const failures = new Map((auth?.per_client ?? []).map((c) => [c.client_id, c.failed]));
  const rows = [...sync.per_client].sort((a, b) => b.records - a.records);
  return (
    <div className="table-wrap">
      <table className="admin-table">
        <thead>
          <tr>
            <th>{t('admin.stats.col.site')}</th>
            <th className="num">{t('admin.stats.col.batches')}</th>
            <th className="num">{t('admin.stats.col.records')}</th>
            <th className="num">{t('admin.stats.col.applied')}</th>
            <th className="num">{t('admin.stats.col.rejected')}</th>
            <th className="num">{t('admin.stats.col.p95')}</th>
            <th className="num">{t('admin.stats.col.signin_failures')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            <tr key={c.client_id} data-testid="sync-window-row">
              <td>
                <a href={hrefFor('site', c.client_id)} className="admin-site-link">
                  {nameOf(names, c.client_id)}
                </a>
              </td>
              <td className="num">{c.batches.toLocaleString('en')}</td>
              <td className="num">{c.records.toLocaleString('en')}</td>
              <td className="num">{c.applied.toLocaleString('en')}</td>
              <td className={c.rejected ? 'num admin-bad' : 'num'}>{c.rejected.toLocaleString('en')}</td>
              <td className="num nowrap">{c.batches ? formatDuration(c.p95_batch_ms) : t('admin.common.none')}</td>
              <td className="num">{(failures.get(c.client_id) ?? 0).toLocaleString('en')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The tenant's traffic for one period, chosen once for the whole screen. */
export function Stats() {
  const [period, setPeriod] = useState<StatsWindow>('24h');
  const fleet = useSites();
  const loadSync = useCallback(() => syncStats(), []);
  const sync = useAsync(loadSync);
  const loadAuth = useCallback(() => authStats(), []);
  const auth = useAsync(loadAuth);
  const loadSeries = useCallback(() => statsSeries(period), [period]);
  const series = useAsync(loadSeries);

  const chosen = WINDOWS.find((w) => w.window === period) ?? WINDOWS[1];
  const syncWindow = sync.data?.windows.find((w) => w.window === period);
  const authWindow = auth.data?.windows.find((w) => w.window === period);

  return (
    <section className="screen admin-screen" data-testid="screen-stats" aria-labelledby="stats-title">
      <header className="admin-head">
        <h1 id="stats-title">{t('admin.stats.title')}</h1>
        <label className="admin-inline-label">
          {t('admin.stats.window')}
          <select data-testid="stats-window" value={period} onChange={(e) => setPeriod(e.target.value as StatsWindow)}>
            {WINDOWS.map((w) => (
              <option key={w.window} value={w.window}>
                {t(w.label)}
              </option>
            ))}
          </select>
        </label>
      </header>
      {sync.error && <ErrorBanner message={sync.error.message} onRetry={sync.reload} />}
      {auth.error && <ErrorBanner message={auth.error.message} onRetry={auth.reload} />}
      {!sync.data && !sync.error ? <Busy text={t('admin.loading.stats')} /> : <Totals sync={syncWindow} auth={authWindow} />}

      <h2>{t('admin.stats.series')}</h2>
      {series.error ? (
        <ErrorBanner message={series.error.message} onRetry={series.reload} />
      ) : series.loading || !series.data ? (
        <Busy text={t('admin.loading.stats')} />
      ) : series.data.buckets.length === 0 ? (
        <Empty title={t('admin.stats.no_data')} />
      ) : (
        <SeriesExplorer series={series.data} label={t('admin.stats.series_label', { bucket: t(chosen.bucket) })} />
      )}

      <h2>{t('admin.stats.per_site')}</h2>
      {syncWindow ? <PerSite sync={syncWindow} auth={authWindow} names={fleet.names} /> : sync.data && <Empty title={t('admin.stats.no_data')} />}
    </section>
  );
}
