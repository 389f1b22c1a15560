import { useState } from 'react';
import { onEvent, type SavedFile } from '../../../api';
import { exportAudit, type AuditQuery, type ExportProgress } from '../../../apiAdmin';
import { ErrorBanner } from '../../../components/States';
import { asCommandError } from '../../../lib/errors';
import { formatBytes } from '../../../lib/time';
import { t } from '../../../messages';
import { SavedResult } from './SavedResult';

type Format = 'csv' | 'ndjson';

/** Export what the filter selects to a file the admin picks; progress while the Rust side streams it. */
export function AuditExport({ query }: { query: AuditQuery }) {
  const [format, setFormat] = useState<Format>('csv');
  const [bytes, setBytes] = useState<number | null>(null);
  const [saved, setSaved] = useState<SavedFile | null>(null);
  const [cancelled, setCancelled] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async () => {
    setBytes(0);
    setSaved(null);
    setCancelled(false);
    setError(null);
    let stop: (() => void) | undefined;
    try {
      stop = await onEvent<ExportProgress>('export-progress', (p) => setBytes(p.bytes));
      const file = await exportAudit(query, format);
      if (file) setSaved(file);
      else setCancelled(true);
    } catch (e) {
      setError(asCommandError(e).message);
    } finally {
      stop?.();
      setBytes(null);
    }
  };

  return (
    <div className="admin-export">
      <div className="admin-toolbar">
        <select aria-label={t('admin.audit.export_format')} data-testid="audit-export-format" value={format} onChange={(e) => setFormat(e.target.value as Format)}>
          <option value="csv">{t('admin.audit.export.csv')}</option>
          <option value="ndjson">{t('admin.audit.export.ndjson')}</option>
        </select>
        <button type="button" data-testid="audit-export" disabled={bytes !== null} onClick={() => void run()}>
          {t('admin.audit.export')}
        </button>
      </div>
      <div aria-live="polite" className="admin-export-status">
        {bytes !== null && (
          <span className="muted" data-testid="audit-export-progress">
            {t('admin.audit.exporting', { size: formatBytes(bytes) })}
          </span>
        )}
        {saved && <SavedResult testId="audit-export" text={t('admin.audit.saved', { path: saved.path })} path={saved.path} onError={setError} />}
        {cancelled && <span className="muted">{t('admin.audit.export_cancelled')}</span>}
      </div>
      {error && <ErrorBanner message={error} />}
    </div>
  );
}
