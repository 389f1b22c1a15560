// Placeholder: the redesign (issue 14) replaces this screen.
import { t } from '../../messages';

export function Site({ clientId }: { clientId: string }) {
  return (
    <section data-id={clientId} data-testid="screen-site">
      <h1>{t('nav.site')}</h1>
    </section>
  );
}
