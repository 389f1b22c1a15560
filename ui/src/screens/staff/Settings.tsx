// Placeholder: the redesign (issue 14) replaces this screen.
import type { Identities } from '../../api';
import { t } from '../../messages';

export function Settings({ identities }: { identities: Identities; onIdentityChange: () => void }) {
  return (
    <section data-id={identities.site?.client_id} data-testid="screen-settings">
      <h1>{t('nav.settings')}</h1>
    </section>
  );
}
