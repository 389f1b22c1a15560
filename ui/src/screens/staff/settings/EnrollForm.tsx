import { useState, type FormEvent } from 'react';
import { enroll } from '../../../api';
import { ErrorBanner } from '../../../components/States';
import { asCommandError } from '../../../lib/errors';
import { t } from '../../../messages';
import { Confirm } from '../Confirm';

/**
 * Paste-once enrollment. The pasted string holds the site's secret: it lives only in this
 * password field until it is sent and is cleared afterwards. `replacing` names the site this
 * PC syncs as now: staff confirm the change first, and it is sent with replace = true.
 */
export function EnrollForm({ replacing, onDone }: { replacing: string | null; onDone: () => void }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);

  const send = async (replace: boolean) => {
    setConfirm(null);
    setBusy(true);
    setError(null);
    try {
      if (replace) await enroll(text.trim(), true);
      else await enroll(text.trim());
      setText('');
      onDone();
    } catch (e) {
      const err = asCommandError(e);
      // The string is for another site than this PC's: only after staff say so.
      if (err.code === 'other_site' && !replace) setConfirm(t('settings.otherSite.confirm'));
      else setError(err.message);
    } finally {
      setBusy(false);
    }
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    if (replacing) setConfirm(t('settings.change.confirm', { site: replacing }));
    else void send(false);
  };

  return (
    <form className="stack enroll" onSubmit={submit}>
      <label htmlFor="enroll-input">{replacing ? t('settings.enroll.changeLabel') : t('settings.enroll.label')}</label>
      <input
        id="enroll-input"
        type="password"
        data-testid="enroll-input"
        autoComplete="off"
        spellCheck={false}
        placeholder="kendrix1:…"
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      <p className="muted field-hint">{t('settings.enroll.hint')}</p>
      {confirm ? (
        <Confirm
          question={confirm}
          yes={t('settings.change.yes')}
          busy={busy}
          onYes={() => void send(true)}
          onCancel={() => setConfirm(null)}
        />
      ) : (
        <button type="submit" className="button-primary" data-testid="enroll-submit" disabled={!text.trim() || busy}>
          {busy ? t('settings.enroll.submitting') : t('settings.enroll.submit')}
        </button>
      )}
      {error && <ErrorBanner message={error} />}
    </form>
  );
}
