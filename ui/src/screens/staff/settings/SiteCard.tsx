import { useState } from 'react';
import { checkConnection, type ConnectionCheck, type SiteIdentity } from '../../../api';
import { ErrorBanner } from '../../../components/States';
import { asCommandError } from '../../../lib/errors';
import { t } from '../../../messages';
import { EnrollForm } from './EnrollForm';

/** "sync.example.com" from "https://sync.example.com/"; the text itself if it is not a URL. */
export function hostOf(server: string): string {
  try {
    return new URL(server).host || server;
  } catch {
    return server;
  }
}

/** The site this PC syncs as, as staff name it: its name, else its client id. */
export function siteName(site: SiteIdentity): string {
  return site.name ?? site.client_id;
}

/**
 * The site this PC is connected to ("Connected to Acme Stores · Store 12"), Check connection,
 * and "Change site…" behind which the paste field waits. Not connected: the paste field.
 */
export function SiteCard({ site, onIdentityChange }: { site: SiteIdentity | null; onIdentityChange: () => void }) {
  const [checking, setChecking] = useState(false);
  const [check, setCheck] = useState<ConnectionCheck | null>(null);
  const [checkError, setCheckError] = useState<string | null>(null);
  const [changing, setChanging] = useState(false);
  const [enrolled, setEnrolled] = useState(false);

  const runCheck = async () => {
    setChecking(true);
    setCheck(null);
    setCheckError(null);
    try {
      const answer = await checkConnection();
      setCheck(answer);
      // The server's names for the site are remembered: show them.
      if (answer.ok) onIdentityChange();
    } catch (e) {
      setCheckError(asCommandError(e).message);
    } finally {
      setChecking(false);
    }
  };

  const done = () => {
    setChanging(false);
    setEnrolled(true);
    setCheck(null);
    onIdentityChange();
  };

  return (
    <section className="card" aria-labelledby="site-title">
      <h2 id="site-title">{site ? t('settings.site.title') : t('settings.enroll.title')}</h2>
      {enrolled && (
        <div className="banner banner-ok" role="status" data-testid="enroll-done">
          {t('settings.enroll.done')}
        </div>
      )}
      {site ? (
        <>
          <div className="site-card" data-testid="site-card">
            <p className="site-name">
              {site.name && site.tenant
                ? t('settings.site.connected', { tenant: site.tenant, name: site.name })
                : t('settings.site.connectedAs', { server: hostOf(site.server), client: site.client_id })}
            </p>
            <div className="confirm-actions">
              <button type="button" data-testid="check-connection" disabled={checking} onClick={() => void runCheck()}>
                {checking ? t('settings.checking') : t('settings.check')}
              </button>
              {changing ? (
                <button type="button" onClick={() => setChanging(false)}>
                  {t('common.cancel')}
                </button>
              ) : (
                <button type="button" data-testid="change-site" onClick={() => setChanging(true)}>
                  {t('settings.change')}
                </button>
              )}
            </div>
            {check && (
              <p className={check.ok ? 'result-ok' : 'field-error'} role="status" data-testid="connection-result">
                {check.ok ? t('settings.check.ok', { ms: Math.round(check.latency_ms) }) : (check.message ?? t('settings.check.failed'))}
              </p>
            )}
            {checkError && <ErrorBanner message={checkError} />}
          </div>
          {changing && <EnrollForm replacing={siteName(site)} onDone={done} />}
        </>
      ) : (
        <>
          <p>{t('settings.enroll.notEnrolled')}</p>
          <EnrollForm replacing={null} onDone={done} />
        </>
      )}
    </section>
  );
}
