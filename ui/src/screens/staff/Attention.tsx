// Placeholder: the redesign (issue 14) replaces this screen.
import { t } from '../../messages';

export function Attention() {
  return (
    <section data-testid="screen-attention">
      <h1>{t('nav.attention')}</h1>
    </section>
  );
}
