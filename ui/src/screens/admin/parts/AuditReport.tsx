import { useState } from 'react';
import { saveReport, type SavedReport } from '../../../apiAdmin';
import { ErrorBanner } from '../../../components/States';
import { asCommandError } from '../../../lib/errors';
import { t } from '../../../messages';
import { SavedResult } from './SavedResult';

const DAY_MS = 86_400_000;
const PERIODS = [7, 30, 90, 365] as const;

/** The tenant's compliance report of a recent period: the printable page where the admin picks, the signed evidence beside it. */
export function AuditReport() {
  const [days, setDays] = useState<number>(30);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<SavedReport | null>(null);
  const [cancelled, setCancelled] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async () => {
    setBusy(true);
    setSaved(null);
    setCancelled(false);
    setError(null);
    try {
      const until = Date.now();
      const report = await saveReport(until - days * DAY_MS, until);
      if (report) setSaved(report);
      else setCancelled(true);
    } catch (e) {
      setError(asCommandError(e).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="admin-export">
      <div className="admin-toolbar">
        <select aria-label={t('admin.report.period')} data-testid="audit-report-period" value={days} onChange={(e) => setDays(Number(e.target.value))}>
          {PERIODS.map((d) => (
            <option key={d} value={d}>
              {t('admin.report.last_days', { n: d })}
            </option>
          ))}
        </select>
        <button type="button" data-testid="audit-report" disabled={busy} onClick={() => void run()}>
          {t('admin.report.save')}
        </button>
      </div>
      <div aria-live="polite" className="admin-export-status">
        {busy && (
          <span className="muted" data-testid="audit-report-progress">
            {t('admin.report.making')}
          </span>
        )}
        {saved && <SavedResult testId="audit-report" text={t('admin.report.saved', { path: saved.report.path })} path={saved.report.path} onError={setError} />}
        {cancelled && <span className="muted">{t('admin.report.cancelled')}</span>}
      </div>
      {error && <ErrorBanner message={error} />}
    </div>
  );
}
