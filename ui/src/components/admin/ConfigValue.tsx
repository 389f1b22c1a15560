import { formatConfigValue, isMasked } from '../../lib/configDiff';
import { t } from '../../messages';

export function Lock() {
  return (
    <svg className="lock" width="11" height="13" viewBox="0 0 12 14" role="img" aria-label={t('admin.config.secret')}>
      <title>{t('admin.config.secret_masked')}</title>
      <rect x="1" y="6" width="10" height="8" rx="1.5" fill="currentColor" />
      <path d="M3 6V4a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" strokeWidth="1.6" />
    </svg>
  );
}

/** A setting's value: secrets as •••• behind a lock, everything else as one line of text. */
export function ConfigValue({ value, secret = false }: { value: unknown; secret?: boolean }) {
  if (secret || isMasked(value)) {
    return (
      <span className="admin-secret">
        <Lock />
        <span aria-hidden="true">••••••••</span>
      </span>
    );
  }
  if (value === null || value === undefined) return <span className="muted">{t('admin.common.none')}</span>;
  return <span className="mono admin-value">{formatConfigValue(value)}</span>;
}

export function TypeBadge({ type }: { type: string }) {
  return <span className="admin-type">{type}</span>;
}
