import { useCallback, useEffect, useRef, useState } from 'react';
import {
  getStatus,
  history,
  onStatus,
  pause,
  resume,
  syncNow,
  type Status,
  type SyncRun,
  type SyncState,
} from '../api';
import { BarChart } from '../components/BarChart';
import { Empty, ErrorBanner, Loading } from '../components/States';
import { RelativeTime } from '../components/Time';
import { errorMessage } from '../lib/errors';
import { outcomeClass, outcomeLabel, STATE_HINT } from '../lib/labels';
import { hrefFor } from '../lib/route';
import { formatAbsolute } from '../lib/time';
import { useAsync } from '../lib/useAsync';
import { useNow } from '../lib/useNow';

const RUN_SERIES = [
  { key: 'applied', label: 'Applied', className: 'fill-applied' },
  { key: 'rejected', label: 'Rejected', className: 'fill-rejected' },
];

function SyncProgress({ status }: { status: Status }) {
  const p = status.progress;
  const percent = p && p.total > 0 ? Math.round((p.sent / p.total) * 100) : null;
  return (
    <div className="progress-wrap">
      <div
        className={percent === null ? 'progress progress-indeterminate' : 'progress'}
        role="progressbar"
        aria-label="Sync progress"
        aria-valuemin={0}
        aria-valuemax={p?.total ?? undefined}
        aria-valuenow={p?.sent ?? undefined}
        data-testid="sync-progress"
      >
        <div className="progress-bar" style={{ width: `${percent ?? 100}%` }} />
      </div>
      <p className="muted">
        {p ? `${p.sent} of ${p.total} records sent` : 'Preparing the changes to send…'}
      </p>
    </div>
  );
}

function RecentRuns({ runs }: { runs: SyncRun[] }) {
  if (runs.length === 0) {
    return <Empty title="No sync runs yet.">Runs appear here after the first sync.</Empty>;
  }
  const oldestFirst = [...runs].reverse();
  return (
    <BarChart
      title={`Records applied and rejected in the last ${runs.length} sync runs`}
      series={RUN_SERIES}
      groups={oldestFirst.map((run) => ({
        key: run.id,
        label: formatAbsolute(run.started_at).slice(11, 16),
        values: { applied: run.applied, rejected: run.rejected },
        marker: { className: outcomeClass(run.outcome), label: outcomeLabel(run) },
      }))}
    />
  );
}

/** The site staff's screen: is everything synced, and if not, what is wrong. */
export function Dashboard() {
  const [status, setStatus] = useState<Status | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const now = useNow();
  const loadRuns = useCallback(() => history(20), []);
  const runs = useAsync(loadRuns);
  const reloadRuns = runs.reload;
  const lastState = useRef<SyncState | null>(null);

  const accept = useCallback(
    (s: Status) => {
      // A run that just ended belongs in the chart.
      if (lastState.current === 'syncing' && s.state !== 'syncing') reloadRuns();
      lastState.current = s.state;
      setStatus(s);
      setStatusError(null);
    },
    [reloadRuns],
  );

  const refreshStatus = useCallback(
    () => getStatus().then(accept, (e: unknown) => setStatusError(errorMessage(e))),
    [accept],
  );

  useEffect(() => {
    let live = true;
    let heardEvent = false;
    let unlisten: (() => void) | null = null;
    getStatus().then(
      (s) => {
        // An event may already have brought a newer status.
        if (live && !heardEvent) accept(s);
      },
      (e: unknown) => {
        if (live) setStatusError(errorMessage(e));
      },
    );
    onStatus((s) => {
      if (!live) return;
      heardEvent = true;
      accept(s);
    }).then(
      (stop) => {
        if (live) unlisten = stop;
        else stop();
      },
      () => {
        // Without events the screen still shows the status it loaded and refreshes after actions.
      },
    );
    return () => {
      live = false;
      unlisten?.();
    };
  }, [accept]);

  const act = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setActionError(null);
    try {
      await action();
    } catch (e) {
      setActionError(errorMessage(e));
    } finally {
      setBusy(false);
      reloadRuns();
      void refreshStatus();
    }
  };

  if (!status) {
    return (
      <section className="screen" data-testid="screen-dashboard" aria-labelledby="dashboard-title">
        <h1 id="dashboard-title">Dashboard</h1>
        {statusError ? (
          <ErrorBanner message={statusError} onRetry={() => void refreshStatus()} />
        ) : (
          <Loading what="the sync status" />
        )}
      </section>
    );
  }

  const syncing = status.state === 'syncing';
  const stateText = status.all_synced ? 'All synced' : status.state;
  const tone = status.all_synced ? 'ok' : status.state;

  return (
    <section className="screen" data-testid="screen-dashboard" aria-labelledby="dashboard-title">
      <h1 id="dashboard-title">Dashboard</h1>
      {statusError && <ErrorBanner message={statusError} onRetry={() => void refreshStatus()} />}
      {actionError && <ErrorBanner message={actionError} />}
      {status.warning && (
        <div className="banner banner-warning" role="status" data-testid="warning">
          {status.warning}
        </div>
      )}
      {!status.enrolled && (
        <div className="banner banner-info" role="status">
          This computer is not enrolled yet. <a href={hrefFor('settings')}>Enroll it in Settings</a>{' '}
          with the string your admin gave you.
        </div>
      )}

      <div className={`status-card tone-${tone}`}>
        <span className="status-dot" aria-hidden="true" />
        <div>
          <p className="status-state" data-testid="status-state" aria-live="polite">
            {stateText}
          </p>
          <p className="status-hint">
            {status.message ?? (status.all_synced ? 'Every change has reached the server.' : STATE_HINT[status.state])}
            {status.state === 'paused' && status.paused_until !== null && (
              <> Resumes {formatAbsolute(status.paused_until)}.</>
            )}
          </p>
        </div>
      </div>

      <div className="actions">
        <button
          type="button"
          className="button-primary"
          data-testid="sync-now"
          disabled={syncing || busy || !status.enrolled}
          onClick={() => void act(syncNow)}
        >
          {syncing ? 'Syncing…' : 'Sync Now'}
        </button>
        {status.state === 'paused' ? (
          <button type="button" data-testid="resume" disabled={busy} onClick={() => void act(resume)}>
            Resume
          </button>
        ) : (
          <>
            <button type="button" data-testid="pause" disabled={busy} onClick={() => void act(() => pause(60))}>
              Pause 1 h
            </button>
            <button type="button" disabled={busy} onClick={() => void act(() => pause(null))}>
              Pause until resumed
            </button>
          </>
        )}
      </div>
      {syncing && <SyncProgress status={status} />}

      <dl className="tiles">
        <div className="tile">
          <dt>Waiting to send</dt>
          <dd>
            <span className="tile-number" data-testid="queue-depth">
              {status.queue_depth}
            </span>
          </dd>
        </div>
        <div className="tile">
          <dt>Dead letters</dt>
          <dd>
            <a
              className={status.dead_letters > 0 ? 'tile-number tile-bad' : 'tile-number'}
              href={hrefFor('dead-letters')}
              data-testid="dead-letter-count"
              title="Open the dead letters: records the server refused"
            >
              {status.dead_letters}
            </a>
          </dd>
        </div>
        <div className="tile">
          <dt>Last successful sync</dt>
          <dd>
            <RelativeTime at={status.last_success_at} now={now} testId="last-success" />
          </dd>
        </div>
        <div className="tile">
          <dt>Next run</dt>
          <dd>
            <RelativeTime
              at={status.next_run_at}
              now={now}
              never={status.state === 'paused' ? 'Paused' : 'Not scheduled'}
              testId="next-run"
            />
          </dd>
        </div>
      </dl>

      <h2>Recent runs</h2>
      {runs.error && <ErrorBanner message={runs.error.message} onRetry={runs.reload} />}
      {runs.data ? <RecentRuns runs={runs.data} /> : !runs.error && <Loading what="recent runs" />}
    </section>
  );
}
