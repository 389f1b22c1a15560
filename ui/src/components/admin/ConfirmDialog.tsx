import { useState } from 'react';
import { asCommandError } from '../../lib/errors';
import { t } from '../../messages';
import { ErrorBanner } from '../States';
import { Dialog } from './Dialog';

/** Asks before a step that cannot be undone; `confirm-yes` runs it, a failure stays in the dialog. */
export function ConfirmDialog({
  title,
  body,
  confirm,
  onConfirm,
  onClose,
}: {
  title: string;
  body: string;
  confirm: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
    } catch (e) {
      setError(asCommandError(e).message);
      setBusy(false);
    }
  };
  return (
    <Dialog
      title={title}
      onClose={onClose}
      testId="confirm-dialog"
      footer={
        <>
          <button type="button" onClick={onClose} data-testid="confirm-no">
            {t('admin.common.cancel')}
          </button>
          <button type="button" className="button-primary admin-danger" disabled={busy} data-testid="confirm-yes" onClick={() => void run()}>
            {confirm}
          </button>
        </>
      }
    >
      <p>{body}</p>
      {error && <ErrorBanner message={error} />}
    </Dialog>
  );
}
