// Placeholder: the redesign (issue 14) replaces this screen.
import { t } from '../../messages';

export function Sites() {
  return (
    <section data-testid="screen-sites">
      <h1>{t('nav.sites')}</h1>
    </section>
  );
}
