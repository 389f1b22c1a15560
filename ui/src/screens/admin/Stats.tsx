// Placeholder: the redesign (issue 14) replaces this screen.
import { t } from '../../messages';

export function Stats() {
  return (
    <section data-testid="screen-stats">
      <h1>{t('nav.stats')}</h1>
    </section>
  );
}
