import { useCallback, useState } from 'react';
import { authStats, syncStats, type AuthCounts, type AuthStats, type SyncStats } from '../api';
import { BarChart, type Series } from '../components/BarChart';
import { Empty, Loading, ReadError } from '../components/States';
import { Tabs } from '../components/Tabs';
import { formatDuration } from '../lib/time';
import { useAsync } from '../lib/useAsync';

const SYNC_SERIES: Series[] = [
  { key: 'applied', label: 'Applied', className: 'fill-applied' },
  { key: 'duplicate', label: 'Duplicate', className: 'fill-duplicate' },
  { key: 'stale', label: 'Stale', className: 'fill-stale' },
  { key: 'rejected', label: 'Rejected', className: 'fill-rejected' },
];

const AUTH_SERIES: (Series & { key: keyof AuthCounts })[] = [
  { key: 'issued', label: 'Tokens issued', className: 'fill-applied' },
  { key: 'refreshed', label: 'Refreshed', className: 'fill-duplicate' },
  { key: 'failed', label: 'Failed sign-ins', className: 'fill-rejected' },
  { key: 'revoked', label: 'Revoked', className: 'fill-stale' },
  { key: 'refresh_reuse', label: 'Refresh reuse', className: 'fill-other' },
  { key: 'rate_limited', label: 'Rate limited', className: 'fill-neutral' },
];

const WINDOW_LABEL: Record<string, string> = { '1h': 'Last hour', '24h': 'Last 24 h', '7d': 'Last 7 days' };

function windowLabel(window: string): string {
  return WINDOW_LABEL[window] ?? window;
}

function latency(ms: number, batches: number): string {
  return batches > 0 ? formatDuration(ms) : '—';
}

function SyncSection({ stats, span }: { stats: SyncStats; span: string }) {
  const widest = stats.windows[stats.windows.length - 1];
  if (!widest || widest.total.batches + widest.total.refused_batches === 0) {
    return <Empty title="No batches reached the server in the last week." />;
  }
  const selected = stats.windows.find((w) => w.window === span) ?? widest;
  return (
    <>
      <BarChart
        title="Records by outcome in each window"
        series={SYNC_SERIES}
        barWidth={22}
        groups={stats.windows.map((w) => ({
          key: w.window,
          label: windowLabel(w.window),
          values: { applied: w.total.applied, duplicate: w.total.duplicate, stale: w.total.stale, rejected: w.total.rejected },
        }))}
      />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Window</th>
              <th className="num">Batches</th>
              <th className="num">Refused batches</th>
              <th className="num">Records</th>
              <th className="num">Batch time p50</th>
              <th className="num">p95</th>
            </tr>
          </thead>
          <tbody>
            {stats.windows.map((w) => (
              <tr key={w.window} data-testid="sync-window-row">
                <td>{windowLabel(w.window)}</td>
                <td className="num">{w.total.batches}</td>
                <td className="num">{w.total.refused_batches}</td>
                <td className="num">{w.total.records}</td>
                <td className="num">{latency(w.total.p50_batch_ms, w.total.batches)}</td>
                <td className="num">{latency(w.total.p95_batch_ms, w.total.batches)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>Per site, {windowLabel(selected.window).toLowerCase()}</h3>
      {selected.per_client.length === 0 ? (
        <p className="muted">No batches in this window.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Client</th>
                <th className="num">Batches</th>
                <th className="num">Applied</th>
                <th className="num">Duplicate</th>
                <th className="num">Stale</th>
                <th className="num">Rejected</th>
                <th className="num">p95</th>
              </tr>
            </thead>
            <tbody>
              {selected.per_client.map((c) => (
                <tr key={c.client_id} data-testid="sync-client-row">
                  <td className="mono">{c.client_id}</td>
                  <td className="num">{c.batches}</td>
                  <td className="num">{c.applied}</td>
                  <td className="num">{c.duplicate}</td>
                  <td className="num">{c.stale}</td>
                  <td className="num">{c.rejected}</td>
                  <td className="num">{latency(c.p95_batch_ms, c.batches)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function AuthSection({ stats, span }: { stats: AuthStats; span: string }) {
  const any = stats.windows.some((w) => AUTH_SERIES.some((s) => w.total[s.key] > 0));
  if (!any) return <Empty title="No sign-ins or token activity in the last week." />;
  const selected = stats.windows.find((w) => w.window === span) ?? stats.windows[stats.windows.length - 1];
  return (
    <>
      <BarChart
        title="Authentication events in each window"
        series={AUTH_SERIES}
        barWidth={16}
        groups={stats.windows.map((w) => ({
          key: w.window,
          label: windowLabel(w.window),
          values: Object.fromEntries(AUTH_SERIES.map((s) => [s.key, w.total[s.key]])),
        }))}
      />
      <h3>Per client, {windowLabel(selected.window).toLowerCase()}</h3>
      {selected.per_client.length === 0 ? (
        <p className="muted">No authentication events in this window.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Client</th>
                {AUTH_SERIES.map((s) => (
                  <th key={s.key} className="num">
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {selected.per_client.map((c) => (
                <tr key={c.client_id ?? '(unknown)'} data-testid="auth-client-row">
                  <td className="mono">{c.client_id ?? 'unknown client'}</td>
                  {AUTH_SERIES.map((s) => (
                    <td key={s.key} className="num">
                      {c[s.key]}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** The server's sync and sign-in figures for this tenant, over the last hour, day and week. */
export function Stats() {
  const loadSync = useCallback(() => syncStats(), []);
  const loadAuth = useCallback(() => authStats(), []);
  const sync = useAsync(loadSync);
  const auth = useAsync(loadAuth);
  const [span, setSpan] = useState('24h');

  return (
    <section className="screen" data-testid="screen-stats" aria-labelledby="stats-title">
      <h1 id="stats-title">Stats</h1>
      <Tabs
        label="Window for the per-client tables"
        idPrefix="stats"
        selected={span}
        onSelect={setSpan}
        tabs={['1h', '24h', '7d'].map((w) => ({ key: w, label: windowLabel(w), testId: `stats-window-${w}` }))}
      />
      <div role="tabpanel" id="stats-panel" aria-labelledby={`stats-tab-${span}`}>
        <h2>Sync</h2>
        {sync.error ? (
          <ReadError error={sync.error} scope="stats:read" what="the sync statistics" onRetry={sync.reload} />
        ) : !sync.data ? (
          <Loading what="sync statistics" />
        ) : (
          <SyncSection stats={sync.data} span={span} />
        )}
        <h2>Authentication</h2>
        {auth.error ? (
          <ReadError error={auth.error} scope="stats:read" what="the authentication statistics" onRetry={auth.reload} />
        ) : !auth.data ? (
          <Loading what="authentication statistics" />
        ) : (
          <AuthSection stats={auth.data} span={span} />
        )}
      </div>
      <div className="actions">
        <button
          type="button"
          onClick={() => {
            sync.reload();
            auth.reload();
          }}
        >
          Refresh
        </button>
      </div>
    </section>
  );
}
