import { useCallback, useEffect, useRef, useState } from 'react';
import { history, pause, resume, syncNow, type Status as AgentStatus, type SyncRun } from '../../api';
import { Ago } from '../../components/Time';
import { ErrorBanner, Loading } from '../../components/States';
import { asCommandError } from '../../lib/errors';
import { hrefFor } from '../../lib/route';
import { runResult } from '../../lib/runSummary';
import { statusSentence, type StatusAction } from '../../lib/statusSentence';
import { formatDue, formatDateTime } from '../../lib/time';
import { useAsync } from '../../lib/useAsync';
import { useNow } from '../../lib/useNow';
import { t } from '../../messages';
import { SyncProgress } from './status/Progress';
import { RecentRuns } from './status/RecentRuns';
import { useLiveStatus } from './status/useLiveStatus';

/** The sentence's one button: a link to the screen that fixes it, or the command itself. */
function ActionButton({ action, busy, onRun }: { action: StatusAction; busy: boolean; onRun: (a: StatusAction) => void }) {
  if (action.kind === 'review' || action.kind === 'settings') {
    return (
      <a className="button button-primary" href={hrefFor(action.kind === 'review' ? 'attention' : 'settings')} data-testid="status-action">
        {action.label}
      </a>
    );
  }
  return (
    <button type="button" className="button-primary" data-testid="status-action" disabled={busy} onClick={() => onRun(action)}>
      {action.label}
    </button>
  );
}

function Facts({ status, now }: { status: AgentStatus; now: number }) {
  return (
    <dl className="facts" aria-label={t('status.facts.label')}>
      <div>
        <dt>{t('status.facts.waiting')}</dt>
        <dd data-testid="queue-depth">{status.queue_depth}</dd>
      </div>
      <div>
        <dt>{t('status.facts.attention')}</dt>
        <dd>
          <a href={hrefFor('attention')} className={status.dead_letters > 0 ? 'fact-bad' : undefined} data-testid="dead-letter-count">
            {status.dead_letters}
          </a>
        </dd>
      </div>
      <div>
        <dt>{t('status.facts.lastSuccess')}</dt>
        <dd>
          <Ago at={status.last_success_at} now={now} never={t('status.facts.never')} testId="last-success" />
        </dd>
      </div>
      <div>
        <dt>{t('status.facts.nextRun')}</dt>
        <dd>
          {status.next_run_at === null || status.state === 'paused' ? (
            <span data-testid="next-run">{t('status.facts.notScheduled')}</span>
          ) : (
            <span className="nowrap" data-testid="next-run" title={formatDateTime(status.next_run_at)}>
              {formatDue(status.next_run_at, now)}
            </span>
          )}
        </dd>
      </div>
    </dl>
  );
}

/** Staff's first screen: one sentence saying how syncing is, and the one thing that fixes it. */
export function Status() {
  const { status, error, refresh } = useLiveStatus();
  const now = useNow();
  const loadRuns = useCallback(() => history(20), []);
  const runs = useAsync(loadRuns);
  const reloadRuns = runs.reload;
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<SyncRun | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  // A run that just ended belongs in the chart.
  const lastState = useRef(status?.state);
  useEffect(() => {
    if (lastState.current === 'syncing' && status?.state !== 'syncing') reloadRuns();
    lastState.current = status?.state;
  }, [status?.state, reloadRuns]);

  const act = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setActionError(null);
    try {
      await action();
    } catch (e) {
      setActionError(asCommandError(e).message);
    } finally {
      setBusy(false);
      reloadRuns();
      void refresh();
    }
  };
  const sync = () =>
    act(async () => {
      setResult(null);
      setResult(await syncNow());
    });
  const run = (a: StatusAction) => void (a.kind === 'resume' ? act(resume) : sync());

  if (!status) {
    return (
      <section className="screen" data-testid="screen-status" aria-labelledby="status-title">
        <h1 id="status-title">{t('status.title')}</h1>
        {error ? <ErrorBanner message={error.message} onRetry={() => void refresh()} /> : <Loading text={t('status.loading')} />}
      </section>
    );
  }

  const sentence = statusSentence(status, now);
  const syncing = status.state === 'syncing';
  const paused = status.state === 'paused';
  return (
    <section className="screen" data-testid="screen-status" aria-labelledby="status-title">
      <h1 id="status-title">{t('status.title')}</h1>
      {error && <ErrorBanner message={error.message} onRetry={() => void refresh()} />}
      {status.warning && (
        <div className="banner banner-warning" role="status" data-testid="warning">
          {status.warning}
        </div>
      )}

      <div className={`status-card tone-${sentence.tone}`}>
        <span className="status-dot" aria-hidden="true" />
        <div className="status-body">
          <p className="status-sentence" data-testid="status-sentence" aria-live="polite">
            {sentence.text}
          </p>
          {sentence.detail && (
            <p className="status-detail" data-testid="status-detail">
              {sentence.detail}
            </p>
          )}
          {syncing && <SyncProgress progress={status.progress} />}
        </div>
        {sentence.action && <ActionButton action={sentence.action} busy={busy} onRun={run} />}
      </div>

      <div className="toolbar">
        <button type="button" data-testid="sync-now" disabled={syncing || busy || !status.enrolled} onClick={() => void sync()}>
          {syncing || busy ? t('status.syncingButton') : t('status.syncNow')}
        </button>
        {paused ? (
          <button type="button" data-testid="resume" disabled={busy} onClick={() => void act(resume)}>
            {t('status.resume')}
          </button>
        ) : (
          <button type="button" data-testid="pause" disabled={busy || !status.enrolled} onClick={() => void act(() => pause(60))}>
            {t('status.pause')}
          </button>
        )}
        {result && (
          <span className="muted" role="status" data-testid="status-result">
            {runResult(result)}
          </span>
        )}
      </div>
      {actionError && <ErrorBanner message={actionError} />}

      <Facts status={status} now={now} />

      <div className="section-head">
        <h2>{t('status.runs.title')}</h2>
        <a href={hrefFor('history')}>{t('status.runs.all')}</a>
      </div>
      {runs.error && <ErrorBanner message={runs.error.message} onRetry={runs.reload} />}
      {runs.data ? <RecentRuns runs={runs.data} now={now} /> : !runs.error && <Loading />}

      {status.config_version && (
        <p className="muted footnote" data-testid="config-version">
          {t('status.configVersion', { version: status.config_version })}
        </p>
      )}
    </section>
  );
}
