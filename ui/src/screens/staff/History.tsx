import { useCallback } from 'react';
import { history, type SyncRun } from '../../api';
import { Empty, ErrorBanner, Loading } from '../../components/States';
import { DateTime } from '../../components/Time';
import { outcomeWords, runDuration, sentWords, triggerWords } from '../../lib/runSummary';
import { useAsync } from '../../lib/useAsync';
import { t } from '../../messages';

const TONE: Record<string, string> = { synced: 'ok', partial: 'warn', offline: 'neutral', auth: 'bad', error: 'bad' };

function Row({ run }: { run: SyncRun }) {
  const took = runDuration(run);
  return (
    <li className="history-row" data-testid="history-row">
      <span className="history-time">
        <DateTime at={run.started_at} />
      </span>
      <span className="history-trigger muted">{triggerWords(run)}</span>
      <span className={`history-outcome tone-${TONE[run.outcome ?? ''] ?? 'info'}`} title={run.error ?? undefined}>
        <span className="dot" aria-hidden="true" />
        {outcomeWords(run)}
      </span>
      <span className="history-sent">{sentWords(run)}</span>
      <span className="history-took muted nowrap">{took}</span>
    </li>
  );
}

/** This PC's sync runs, one line each: when, who started it, how it went, what was sent, how long. */
export function History() {
  const load = useCallback(() => history(100), []);
  const runs = useAsync(load);
  return (
    <section className="screen" data-testid="screen-history" aria-labelledby="history-title">
      <h1 id="history-title">{t('history.title')}</h1>
      {runs.error && <ErrorBanner message={runs.error.message} onRetry={runs.reload} />}
      {!runs.data && !runs.error ? (
        <Loading text={t('history.loading')} />
      ) : runs.data && runs.data.length === 0 ? (
        <Empty title={t('history.empty')}>{t('history.emptyDetail')}</Empty>
      ) : runs.data ? (
        <>
          <p className="muted intro">{t('history.intro')}</p>
          <ul className="history" aria-label={t('history.title')}>
            {runs.data.map((run) => (
              <Row key={run.id} run={run} />
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
