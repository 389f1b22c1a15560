import { useCallback, useState } from 'react';
import {
  deadLetters,
  discardDeadLetters,
  fixDeadLetter,
  retryDeadLetters,
  type DeadLetter,
} from '../api';
import { Empty, ErrorBanner, Loading } from '../components/States';
import { errorMessage } from '../lib/errors';
import { parseJsonObject, prettyJson } from '../lib/json';
import { formatAbsolute } from '../lib/time';
import { useAsync } from '../lib/useAsync';

/** One dead letter in detail, with its data to correct and resend. */
function Inspector({
  letter,
  busy,
  onFix,
  onClose,
}: {
  letter: DeadLetter;
  busy: boolean;
  onFix: (text: string) => void;
  onClose: () => void;
}) {
  const original = prettyJson(letter.data);
  const [text, setText] = useState(original);
  const check = parseJsonObject(text);
  const changed = text !== original;

  return (
    <div className="panel" aria-labelledby="dead-letter-title">
      <h2 id="dead-letter-title">
        {letter.entity} <span className="mono">{letter.record_id}</span>
      </h2>
      <dl className="figures">
        <div>
          <dt>Operation</dt>
          <dd>{letter.op}</dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd className="mono">{letter.version}</dd>
        </div>
        <div>
          <dt>Refused</dt>
          <dd>{formatAbsolute(letter.at)}</dd>
        </div>
      </dl>
      <p className="banner banner-warning" data-testid="dead-letter-reason">
        Why the server refused it: {letter.reason}
      </p>
      {letter.op === 'delete' ? (
        <p className="muted">A delete carries no data to correct; retry it or discard it.</p>
      ) : (
        <>
          <h3>Data as sent</h3>
          <pre tabIndex={0}>{original || '(no data)'}</pre>
          <label htmlFor="dead-letter-edit">Corrected data (a JSON object)</label>
          <textarea
            id="dead-letter-edit"
            data-testid="dead-letter-data"
            rows={Math.min(16, Math.max(5, text.split('\n').length + 1))}
            spellCheck={false}
            value={text}
            aria-invalid={!check.ok}
            aria-describedby="dead-letter-check"
            onChange={(e) => setText(e.target.value)}
          />
          <p id="dead-letter-check" className={check.ok ? 'muted' : 'field-error'} role={check.ok ? undefined : 'alert'}>
            {check.ok ? (changed ? 'Valid JSON object.' : 'Edit the data, then resend it.') : check.error}
          </p>
        </>
      )}
      <div className="actions">
        {letter.op !== 'delete' && (
          <button
            type="button"
            className="button-primary"
            data-testid="dead-letter-fix"
            disabled={!check.ok || busy}
            onClick={() => onFix(text)}
          >
            Fix &amp; resend
          </button>
        )}
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}

/** Records the server refused: staff look at why, correct the data, resend or discard them. */
export function DeadLetters() {
  const load = useCallback(() => deadLetters(), []);
  const letters = useAsync(load);
  const [selected, setSelected] = useState<Set<number>>(() => new Set());
  const [inspecting, setInspecting] = useState<number | null>(null);
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  const list = letters.data ?? [];
  const chosen = list.filter((d) => selected.has(d.id)).map((d) => d.id);
  const current = list.find((d) => d.id === inspecting) ?? null;

  const run = async (action: () => Promise<void>, done: string, after?: () => void) => {
    setBusy(true);
    setActionError(null);
    setNotice(null);
    try {
      await action();
      setNotice(done);
      after?.();
    } catch (e) {
      setActionError(errorMessage(e));
    } finally {
      setBusy(false);
      letters.reload();
    }
  };

  const toggle = (id: number) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const plural = (n: number) => `${n} record${n === 1 ? '' : 's'}`;

  return (
    <section className="screen" data-testid="screen-dead-letters" aria-labelledby="dead-letters-title">
      <h1 id="dead-letters-title">Dead letters</h1>
      <p className="muted">
        Records the server refused. Nothing is lost: correct a record and resend it, retry records
        unchanged (after the server side was fixed), or discard them.
      </p>
      {notice && (
        <div className="banner banner-ok" role="status">
          {notice}
        </div>
      )}
      {actionError && <ErrorBanner message={actionError} />}
      {letters.error && <ErrorBanner message={letters.error.message} onRetry={letters.reload} />}

      {!letters.data && !letters.error ? (
        <Loading what="dead letters" />
      ) : letters.data && list.length === 0 ? (
        <Empty title="No dead letters.">Every record was accepted by the server.</Empty>
      ) : list.length > 0 ? (
        <>
          <div className="actions">
            <button
              type="button"
              data-testid="dead-letter-retry"
              disabled={chosen.length === 0 || busy}
              onClick={() =>
                void run(() => retryDeadLetters(chosen), `${plural(chosen.length)} queued to send again.`, () =>
                  setSelected(new Set()),
                )
              }
            >
              Retry selected
            </button>
            <button
              type="button"
              className="button-danger"
              data-testid="dead-letter-discard"
              disabled={chosen.length === 0 || busy}
              onClick={() => setConfirmDiscard(true)}
            >
              Discard selected
            </button>
            <span className="muted">{chosen.length} selected</span>
          </div>
          {confirmDiscard && chosen.length > 0 && (
            <div className="banner banner-error" role="alertdialog" aria-labelledby="discard-question">
              <span id="discard-question">
                Discard {plural(chosen.length)} for good? They will never reach the server.
              </span>
              <span className="actions" style={{ margin: 0 }}>
                <button
                  type="button"
                  className="button-danger"
                  data-testid="dead-letter-discard-confirm"
                  disabled={busy}
                  onClick={() => {
                    setConfirmDiscard(false);
                    void run(() => discardDeadLetters(chosen), `${plural(chosen.length)} discarded.`, () => {
                      setSelected(new Set());
                      if (inspecting !== null && chosen.includes(inspecting)) setInspecting(null);
                    });
                  }}
                >
                  Yes, discard
                </button>
                <button type="button" onClick={() => setConfirmDiscard(false)}>
                  Cancel
                </button>
              </span>
            </div>
          )}
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>
                    <input
                      type="checkbox"
                      aria-label="Select all"
                      checked={chosen.length === list.length}
                      onChange={(e) => setSelected(new Set(e.target.checked ? list.map((d) => d.id) : []))}
                    />
                  </th>
                  <th>Entity</th>
                  <th>Record</th>
                  <th>Op</th>
                  <th>Reason</th>
                  <th>Refused</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {list.map((d) => (
                  <tr
                    key={d.id}
                    data-testid="dead-letter-row"
                    className={d.id === inspecting ? 'selected' : undefined}
                    onClick={() => setInspecting(d.id)}
                  >
                    <td onClick={(e) => e.stopPropagation()}>
                      <input
                        type="checkbox"
                        aria-label={`Select ${d.entity} ${d.record_id}`}
                        checked={selected.has(d.id)}
                        onChange={() => toggle(d.id)}
                      />
                    </td>
                    <td>{d.entity}</td>
                    <td className="mono">{d.record_id}</td>
                    <td>{d.op}</td>
                    <td>{d.reason}</td>
                    <td className="mono">{formatAbsolute(d.at)}</td>
                    <td>
                      <button
                        type="button"
                        className="button-small"
                        aria-label={`Inspect ${d.entity} ${d.record_id}`}
                        onClick={(e) => {
                          e.stopPropagation();
                          setInspecting(d.id);
                        }}
                      >
                        Inspect
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}

      {current && (
        <Inspector
          key={current.id}
          letter={current}
          busy={busy}
          onClose={() => setInspecting(null)}
          onFix={(text) =>
            void run(() => fixDeadLetter(current.id, text), `${current.entity} ${current.record_id} corrected and queued to send.`, () =>
              setInspecting(null),
            )
          }
        />
      )}
    </section>
  );
}
