// Placeholder: the redesign (issue 14) replaces this screen.
import { t } from '../../messages';

export function History() {
  return (
    <section data-testid="screen-history">
      <h1>{t('nav.history')}</h1>
    </section>
  );
}
