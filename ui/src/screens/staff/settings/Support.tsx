import { useState } from 'react';
import { revealFile, saveDiagnostics, type SavedFile } from '../../../api';
import { ErrorBanner } from '../../../components/States';
import { asCommandError } from '../../../lib/errors';
import { t } from '../../../messages';

/** "Copy diagnostics": a support file saved where staff choose, then "Open folder". */
export function Support() {
  const [saved, setSaved] = useState<SavedFile | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(asCommandError(e).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="support-title">
      <h2 id="support-title">{t('settings.support.title')}</h2>
      <p className="muted">{t('settings.support.intro')}</p>
      <button
        type="button"
        data-testid="save-diagnostics"
        disabled={busy}
        onClick={() =>
          void run(async () => {
            setSaved(null);
            // Null: the save dialog was cancelled, which needs no word.
            setSaved(await saveDiagnostics());
          })
        }
      >
        {t('settings.diagnostics')}
      </button>
      {saved && (
        <div className="saved-file" role="status" data-testid="diagnostics-saved">
          <span className="path">{t('settings.diagnostics.saved', { path: saved.path })}</span>
          <button type="button" className="button-small" data-testid="reveal-diagnostics" onClick={() => void run(() => revealFile(saved.path))}>
            {t('settings.diagnostics.open')}
          </button>
        </div>
      )}
      {error && <ErrorBanner message={error} />}
    </section>
  );
}
