// Placeholder: the redesign (issue 14) replaces this screen.
import { t } from '../../messages';

export function Audit() {
  return (
    <section data-testid="screen-audit">
      <h1>{t('nav.audit')}</h1>
    </section>
  );
}
