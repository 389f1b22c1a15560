// Placeholder: the redesign (issue 14) replaces this screen.
import { t } from '../../messages';

export function Status() {
  return (
    <section data-testid="screen-status">
      <h1>{t('nav.status')}</h1>
    </section>
  );
}
