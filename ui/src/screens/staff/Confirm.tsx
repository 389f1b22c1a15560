import { useEffect, useRef } from 'react';
import { t } from '../../messages';

/**
 * An inline "are you sure?" beside the action it guards: the question, a Yes button
 * (`confirm-yes`, focused so Enter confirms) and Cancel (Escape cancels too).
 */
export function Confirm({
  question,
  yes,
  busy = false,
  onYes,
  onCancel,
}: {
  question: string;
  yes: string;
  busy?: boolean;
  onYes: () => void;
  onCancel: () => void;
}) {
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => button.current?.focus(), []);
  return (
    <div
      className="confirm"
      role="alertdialog"
      aria-label={question}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          onCancel();
        }
      }}
    >
      <p className="confirm-question">{question}</p>
      <div className="confirm-actions">
        <button ref={button} type="button" className="button-danger" data-testid="confirm-yes" disabled={busy} onClick={onYes}>
          {yes}
        </button>
        <button type="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </div>
  );
}
