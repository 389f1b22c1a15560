import { useState } from 'react';
import { t } from '../../messages';

/** Copies `text` with the clipboard API; says "Copied" for a moment, or why it could not. */
export function CopyButton({ text, testId, label }: { text: string; testId?: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
      setTimeout(() => setState('idle'), 2000);
    } catch {
      setState('failed');
    }
  };
  return (
    <>
      <button type="button" className="button-small" data-testid={testId} onClick={() => void copy()}>
        {state === 'copied' ? t('admin.common.copied') : (label ?? t('admin.common.copy'))}
      </button>
      {state === 'failed' && (
        <span className="field-error" role="alert">
          {t('admin.enrollment.copy_failed')}
        </span>
      )}
      <span className="visually-hidden" aria-live="polite">
        {state === 'copied' ? t('admin.common.copied') : ''}
      </span>
    </>
  );
}
