import { useState, type FormEvent } from 'react';
import { adminEnroll, adminSignOut, type AdminIdentity } from '../../../api';
import { ErrorBanner } from '../../../components/States';
import { asCommandError } from '../../../lib/errors';
import { t } from '../../../messages';
import { Confirm } from '../Confirm';
import { hostOf } from './SiteCard';

/** Signing in as admin on this PC (its own credential, beside the site's), and signing out. */
export function AdminCard({ admin, onIdentityChange }: { admin: AdminIdentity | null; onIdentityChange: () => void }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);

  const act = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      setText('');
      setOpen(false);
      setConfirming(false);
      onIdentityChange();
    } catch (e) {
      setError(asCommandError(e).message);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (text.trim()) void act(() => adminEnroll(text.trim()));
  };

  return (
    <section className="card" aria-labelledby="admin-title">
      <h2 id="admin-title">{t('settings.admin.title')}</h2>
      {admin ? (
        <>
          <p data-testid="admin-identity">
            {t('settings.admin.signedIn', { name: admin.name ?? admin.client_id, tenant: admin.tenant ?? hostOf(admin.server) })}
          </p>
          {confirming ? (
            <Confirm
              question={t('settings.admin.signOutConfirm')}
              yes={t('settings.admin.signOutYes')}
              busy={busy}
              onYes={() => void act(adminSignOut)}
              onCancel={() => setConfirming(false)}
            />
          ) : (
            <button type="button" data-testid="admin-signout" onClick={() => setConfirming(true)}>
              {t('settings.admin.signOut')}
            </button>
          )}
        </>
      ) : (
        <>
          <p className="muted">{t('settings.admin.intro')}</p>
          {open ? (
            <form className="stack enroll" onSubmit={submit}>
              <label htmlFor="admin-enroll-input">{t('settings.admin.label')}</label>
              <input
                id="admin-enroll-input"
                type="password"
                data-testid="admin-enroll-input"
                autoComplete="off"
                spellCheck={false}
                placeholder="kendrix1:…"
                value={text}
                onChange={(e) => setText(e.target.value)}
              />
              <div className="confirm-actions">
                <button type="submit" className="button-primary" data-testid="admin-enroll-submit" disabled={!text.trim() || busy}>
                  {t('settings.admin.submit')}
                </button>
                <button type="button" onClick={() => setOpen(false)}>
                  {t('common.cancel')}
                </button>
              </div>
            </form>
          ) : (
            <button type="button" data-testid="admin-signin" onClick={() => setOpen(true)}>
              {t('settings.admin.signIn')}
            </button>
          )}
        </>
      )}
      {error && <ErrorBanner message={error} />}
    </section>
  );
}
