import { useCallback } from 'react';
import { getSettings, type Identities } from '../../api';
import { ErrorBanner, Loading } from '../../components/States';
import { useAsync } from '../../lib/useAsync';
import { t } from '../../messages';
import { AdminCard } from './settings/AdminCard';
import { Preferences } from './settings/Preferences';
import { SiteCard } from './settings/SiteCard';
import { Support } from './settings/Support';

/** The site this PC syncs as, how it syncs, the admin sign-in, and a support file. */
export function Settings({ identities, onIdentityChange }: { identities: Identities; onIdentityChange: () => void }) {
  const load = useCallback(() => getSettings(), []);
  const settings = useAsync(load);
  return (
    <section className="screen settings" data-testid="screen-settings" aria-labelledby="settings-title">
      <h1 id="settings-title">{t('settings.title')}</h1>
      <SiteCard site={identities.site} onIdentityChange={onIdentityChange} />
      {settings.error ? (
        <ErrorBanner message={settings.error.message} onRetry={settings.reload} />
      ) : settings.data ? (
        <Preferences initial={settings.data} />
      ) : (
        <Loading text={t('settings.loading')} />
      )}
      <AdminCard admin={identities.admin} onIdentityChange={onIdentityChange} />
      <Support />
    </section>
  );
}
