import { useState } from 'react';
import type { DeadLetter } from '../../../api';
import { Ago } from '../../../components/Time';
import { plainReason, recordLabel, type RefusedGroup } from '../../../lib/refused';
import { t } from '../../../messages';
import { Confirm } from '../Confirm';

/** Records refused for one reason: the reason as heading, Retry all / Discard all, one row each. */
export function Group({
  group,
  now,
  busy,
  openId,
  onOpen,
  onRetryAll,
  onDiscardAll,
}: {
  group: RefusedGroup;
  now: number;
  busy: boolean;
  openId: number | null;
  onOpen: (letter: DeadLetter) => void;
  onRetryAll: (ids: number[]) => void;
  onDiscardAll: (ids: number[]) => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const ids = group.letters.map((d) => d.id);
  const headingId = `group-${group.letters[0].id}`;
  return (
    <section className="group" data-testid="attention-group" aria-labelledby={headingId}>
      <header className="group-head">
        <div className="group-title">
          <h2 id={headingId}>{group.heading}</h2>
          <span className="pill" data-testid="attention-group-count">
            {t('attention.group.count', { n: ids.length })}
          </span>
        </div>
        <div className="confirm-actions">
          <button type="button" className="button-small" data-testid="attention-group-retry" disabled={busy} onClick={() => onRetryAll(ids)}>
            {t('attention.group.retry')}
          </button>
          <button
            type="button"
            className="button-small button-danger"
            data-testid="attention-group-discard"
            disabled={busy}
            onClick={() => setConfirming(true)}
          >
            {t('attention.group.discard')}
          </button>
        </div>
      </header>
      {confirming && (
        <Confirm
          question={t('attention.group.discardConfirm', { n: ids.length })}
          yes={t('attention.confirm.yes')}
          busy={busy}
          onYes={() => {
            setConfirming(false);
            onDiscardAll(ids);
          }}
          onCancel={() => setConfirming(false)}
        />
      )}
      <ul className="rows">
        {group.letters.map((letter) => {
          const reason = plainReason(letter);
          return (
            <li key={letter.id}>
              <button
                type="button"
                className={letter.id === openId ? 'row row-open' : 'row'}
                data-testid="attention-row"
                aria-expanded={letter.id === openId}
                onClick={() => onOpen(letter)}
              >
                <span className="row-main">{recordLabel(letter)}</span>
                {reason !== group.heading && <span className="row-sub muted">{reason}</span>}
                <span className="row-end muted">
                  <Ago at={letter.at} now={now} />
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
