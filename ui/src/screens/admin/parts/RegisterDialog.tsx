import { useState, type FormEvent } from 'react';
import { registerSite, type Registration } from '../../../apiAdmin';
import { Dialog } from '../../../components/admin/Dialog';
import { EnrollmentSecret } from '../../../components/admin/EnrollmentSecret';
import { ErrorBanner } from '../../../components/States';
import { asCommandError } from '../../../lib/errors';
import { t } from '../../../messages';

/** Name → register → the one-time enrollment string with Copy and a QR code. */
export function RegisterDialog({ onClose }: { onClose: (registered: boolean) => void }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<Registration | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    setError(null);
    try {
      setDone(await registerSite(name.trim()));
    } catch (err) {
      setError(asCommandError(err).message);
    } finally {
      setBusy(false);
    }
  };

  const close = () => onClose(done !== null);
  const closeButton = (
    <button type="button" data-testid="register-close" onClick={close} className={done ? 'button-primary' : undefined}>
      {done ? t('admin.common.close') : t('admin.common.cancel')}
    </button>
  );

  if (done) {
    return (
      <Dialog title={t('admin.register.done', { name: done.name })} onClose={close} testId="register-dialog" footer={closeButton}>
        <p>{t('admin.register.next')}</p>
        <EnrollmentSecret enrollment={done.enrollment} prefix="register" />
        <p className="muted mono admin-wrap">{done.client_id}</p>
      </Dialog>
    );
  }

  return (
    <Dialog title={t('admin.register.title')} onClose={close} testId="register-dialog" footer={closeButton}>
      <form className="stack" onSubmit={(e) => void submit(e)}>
        <label className="admin-field">
          {t('admin.register.name')}
          <input data-testid="register-name" value={name} maxLength={120} onChange={(e) => setName(e.target.value)} />
          <span className="muted">{t('admin.register.name_hint')}</span>
        </label>
        {error && <ErrorBanner message={error} />}
        <button type="submit" className="button-primary" data-testid="register-submit" disabled={busy || !name.trim()}>
          {t('admin.register.submit')}
        </button>
      </form>
    </Dialog>
  );
}
