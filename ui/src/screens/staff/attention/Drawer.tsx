import { useEffect, useRef, useState } from 'react';
import type { DeadLetter } from '../../../api';
import { Ago } from '../../../components/Time';
import { fromFields, sameData, toFields, type Field, type FormResult } from '../../../lib/recordForm';
import { dataObject, plainReason, recordLabel } from '../../../lib/refused';
import { useNow } from '../../../lib/useNow';
import { t } from '../../../messages';
import { Confirm } from '../Confirm';
import { RecordFields } from './RecordFields';

/** The JSON text as a data object, or why it is not one. */
function parseObject(text: string): FormResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, errors: { '': t('attention.drawer.badJson') } };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, errors: { '': t('attention.drawer.badObject') } };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * One refused record, beside the list: why it was refused, its data as a form (or as JSON),
 * and Fix & resend, Retry, Discard. A removal has no data: only Retry and Discard.
 */
export function Drawer({
  letter,
  busy,
  onFix,
  onRetry,
  onDiscard,
  onClose,
}: {
  letter: DeadLetter;
  busy: boolean;
  onFix: (data: string) => void;
  onRetry: () => void;
  onDiscard: () => void;
  onClose: () => void;
}) {
  const now = useNow();
  const original = dataObject(letter);
  const removal = letter.op === 'delete';
  const [fields, setFields] = useState<Field[]>(() => (original ? toFields(original) : []));
  // Data that is not an object cannot be a form: it starts as JSON.
  const [jsonMode, setJsonMode] = useState(!removal && original === null);
  const [jsonText, setJsonText] = useState(() => (original ? JSON.stringify(original, null, 2) : (letter.data ?? '')));
  const [confirming, setConfirming] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [letter.id]);

  const current = jsonMode ? parseObject(jsonText) : fromFields(fields);
  const changed = current.ok && (original === null || !sameData(current.value, original));
  const toggleJson = () => {
    if (jsonMode) {
      if (!current.ok) return;
      setFields(toFields(current.value));
      setJsonMode(false);
    } else {
      if (current.ok) setJsonText(JSON.stringify(current.value, null, 2));
      setJsonMode(true);
    }
  };

  return (
    <aside
      className="drawer"
      role="dialog"
      aria-labelledby="attention-drawer-title"
      data-testid="attention-drawer"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <header className="drawer-head">
        <div>
          <h2 id="attention-drawer-title" tabIndex={-1} ref={heading}>
            {recordLabel(letter)}
          </h2>
          <p className="muted">
            {t('attention.refused')} <Ago at={letter.at} now={now} />
          </p>
        </div>
        <button type="button" className="button-icon" aria-label={t('attention.drawer.close')} onClick={onClose}>
          ×
        </button>
      </header>

      <div className="drawer-body">
        <div className="reason-box">
          <span className="reason-label">{t('attention.drawer.reasonLabel')}</span>
          <p data-testid="attention-reason">{plainReason(letter)}</p>
        </div>

        {removal ? (
          <p className="muted">{t('attention.drawer.removal')}</p>
        ) : (
          <>
            <div className="section-head">
              <h3>{t('attention.drawer.fields')}</h3>
              <label className="check">
                <input
                  type="checkbox"
                  data-testid="attention-json-toggle"
                  checked={jsonMode}
                  disabled={jsonMode && !current.ok}
                  onChange={toggleJson}
                />
                {t('attention.drawer.jsonToggle')}
              </label>
            </div>
            {jsonMode ? (
              <div className="field">
                <label htmlFor="attention-json">{t('attention.drawer.jsonLabel')}</label>
                <textarea
                  id="attention-json"
                  data-testid="attention-json"
                  rows={Math.min(18, Math.max(6, jsonText.split('\n').length + 1))}
                  spellCheck={false}
                  value={jsonText}
                  aria-invalid={!current.ok}
                  onChange={(e) => setJsonText(e.target.value)}
                />
                {!current.ok && (
                  <span className="field-error" role="alert">
                    {current.errors['']}
                  </span>
                )}
              </div>
            ) : (
              <RecordFields
                fields={fields}
                errors={current.ok ? {} : current.errors}
                onChange={(i, next) => setFields((fs) => fs.map((f, j) => (j === i ? next : f)))}
              />
            )}
          </>
        )}
      </div>

      <footer className="drawer-foot">
        {confirming ? (
          <Confirm
            question={t('attention.drawer.discardConfirm')}
            yes={t('attention.confirm.yes')}
            busy={busy}
            onYes={onDiscard}
            onCancel={() => setConfirming(false)}
          />
        ) : (
          <div className="confirm-actions">
            {!removal && (
              <button
                type="button"
                className="button-primary"
                data-testid="attention-fix"
                disabled={busy || !changed}
                title={current.ok && !changed ? t('attention.drawer.unchanged') : undefined}
                onClick={() => current.ok && onFix(JSON.stringify(current.value))}
              >
                {t('attention.drawer.fix')}
              </button>
            )}
            <button type="button" data-testid="attention-retry" disabled={busy} onClick={onRetry}>
              {t('attention.drawer.retry')}
            </button>
            <button type="button" className="button-danger" data-testid="attention-discard" disabled={busy} onClick={() => setConfirming(true)}>
              {t('attention.drawer.discard')}
            </button>
          </div>
        )}
        {!removal && current.ok && !changed && <p className="muted field-hint">{t('attention.drawer.unchanged')}</p>}
      </footer>
    </aside>
  );
}
