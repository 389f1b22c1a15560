// Placeholder: the redesign (issue 14) replaces this screen.
import { t } from '../../messages';

export function Config() {
  return (
    <section data-testid="screen-config">
      <h1>{t('nav.config')}</h1>
    </section>
  );
}
