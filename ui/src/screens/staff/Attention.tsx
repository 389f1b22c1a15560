import { useCallback, useEffect, useMemo, useState } from 'react';
import { deadLetters, discardDeadLetters, fixDeadLetter, onStatus, retryDeadLetters } from '../../api';
import { Empty, ErrorBanner, Loading } from '../../components/States';
import { asCommandError } from '../../lib/errors';
import { groupRefused, recordLabel } from '../../lib/refused';
import { useAsync } from '../../lib/useAsync';
import { useNow } from '../../lib/useNow';
import { t } from '../../messages';
import { Drawer } from './attention/Drawer';
import { Group } from './attention/Group';

/** Records the server refused, grouped by why: correct and resend them, retry them, or discard them. */
export function Attention() {
  const load = useCallback(() => deadLetters(), []);
  const letters = useAsync(load);
  const now = useNow();
  const [openId, setOpenId] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  // Records refused (or resolved) elsewhere while the screen is open: the count in the status changes.
  const reload = letters.reload;
  useEffect(() => {
    let live = true;
    let last: number | null = null;
    let stop: (() => void) | undefined;
    Promise.resolve(
      onStatus((s) => {
        if (live && last !== null && last !== s.dead_letters) reload();
        last = s.dead_letters;
      }),
    ).then(
      (unlisten) => {
        if (typeof unlisten !== 'function') return;
        if (live) stop = unlisten;
        else unlisten();
      },
      () => undefined,
    );
    return () => {
      live = false;
      stop?.();
    };
  }, [reload]);

  const list = useMemo(() => letters.data ?? [], [letters.data]);
  const groups = useMemo(() => groupRefused(list), [list]);
  const open = list.find((d) => d.id === openId) ?? null;

  const run = async (action: () => Promise<void>, done: string) => {
    setBusy(true);
    setActionError(null);
    setNotice(null);
    try {
      await action();
      setNotice(done);
      setOpenId(null);
    } catch (e) {
      setActionError(asCommandError(e).message);
    } finally {
      setBusy(false);
      letters.reload();
    }
  };
  const retry = (ids: number[]) => void run(() => retryDeadLetters(ids), t('attention.retried', { n: ids.length }));
  const discard = (ids: number[]) => void run(() => discardDeadLetters(ids), t('attention.discarded', { n: ids.length }));

  return (
    <section className={open ? 'screen with-drawer' : 'screen'} data-testid="screen-attention" aria-labelledby="attention-title">
      <h1 id="attention-title">{t('attention.title')}</h1>
      {notice && (
        <div className="banner banner-ok" role="status" data-testid="attention-notice">
          {notice}
        </div>
      )}
      {actionError && <ErrorBanner message={actionError} />}
      {letters.error && <ErrorBanner message={letters.error.message} onRetry={letters.reload} />}

      {!letters.data && !letters.error ? (
        <Loading text={t('attention.loading')} />
      ) : letters.data && list.length === 0 ? (
        <Empty title={t('attention.empty')}>{t('attention.emptyDetail')}</Empty>
      ) : (
        <>
          <p className="muted intro">{t('attention.intro')}</p>
          {groups.map((group) => (
            <Group
              key={group.key}
              group={group}
              now={now}
              busy={busy}
              openId={openId}
              onOpen={(letter) => setOpenId(letter.id)}
              onRetryAll={retry}
              onDiscardAll={discard}
            />
          ))}
        </>
      )}

      {open && (
        <Drawer
          key={open.id}
          letter={open}
          busy={busy}
          onClose={() => setOpenId(null)}
          onRetry={() => retry([open.id])}
          onDiscard={() => discard([open.id])}
          onFix={(data) => void run(() => fixDeadLetter(open.id, data), t('attention.fixed', { record: recordLabel(open) }))}
        />
      )}
    </section>
  );
}
