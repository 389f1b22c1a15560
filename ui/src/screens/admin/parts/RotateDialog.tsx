import { useState } from 'react';
import { rotateSecret, type Rotation } from '../../../apiAdmin';
import { Dialog } from '../../../components/admin/Dialog';
import { EnrollmentSecret } from '../../../components/admin/EnrollmentSecret';
import { ErrorBanner } from '../../../components/States';
import { asCommandError } from '../../../lib/errors';
import { formatDateTime } from '../../../lib/time';
import { t } from '../../../messages';

/** Grace periods offered, in seconds (0: the old secret stops at once). */
export const GRACES: { seconds: number; label: string }[] = [
  { seconds: 0, label: 'admin.rotate.grace.0' },
  { seconds: 3600, label: 'admin.rotate.grace.3600' },
  { seconds: 86400, label: 'admin.rotate.grace.86400' },
  { seconds: 604800, label: 'admin.rotate.grace.604800' },
];

/** A new secret for the site, the old one kept for a grace the admin picks. */
export function RotateDialog({ clientId, name, onClose }: { clientId: string; name: string; onClose: () => void }) {
  const [grace, setGrace] = useState<number>(86400);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<Rotation | null>(null);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      setDone(await rotateSecret(clientId, grace));
    } catch (err) {
      setError(asCommandError(err).message);
    } finally {
      setBusy(false);
    }
  };

  const footer = (
    <>
      <button type="button" data-testid="rotate-close" onClick={onClose} className={done ? 'button-primary' : undefined}>
        {done ? t('admin.common.close') : t('admin.common.cancel')}
      </button>
      {!done && (
        <button type="button" className="button-primary" data-testid="rotate-submit" disabled={busy} onClick={() => void submit()}>
          {t('admin.rotate.submit')}
        </button>
      )}
    </>
  );

  return (
    <Dialog title={t('admin.rotate.title', { name })} onClose={onClose} testId="rotate-dialog" footer={footer}>
      {done ? (
        <>
          <p data-testid="rotate-until">
            {done.previous_secret_until_ms === null
              ? t('admin.rotate.stopped')
              : t('admin.rotate.until', { at: formatDateTime(done.previous_secret_until_ms) })}
          </p>
          <EnrollmentSecret enrollment={done.enrollment} prefix="rotate" />
        </>
      ) : (
        <div className="stack">
          <p>{t('admin.rotate.body')}</p>
          <label className="admin-field">
            {t('admin.rotate.grace')}
            <select data-testid="rotate-grace" value={grace} onChange={(e) => setGrace(Number(e.target.value))}>
              {GRACES.map((g) => (
                <option key={g.seconds} value={g.seconds}>
                  {t(g.label)}
                </option>
              ))}
            </select>
          </label>
          {error && <ErrorBanner message={error} />}
        </div>
      )}
    </Dialog>
  );
}
