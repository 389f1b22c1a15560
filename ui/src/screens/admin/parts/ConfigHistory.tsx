import type { ConfigVersion, DriftLine } from '../../../apiAdmin';
import { Empty } from '../../../components/States';
import { formatDateTime } from '../../../lib/time';
import { nameOf, type SiteNames } from '../../../lib/admin/sites';
import { t } from '../../../messages';

/** Every version, newest first: "Version 3 · 1 Dec 2026, 14:03 · by admin · comment". */
export function ConfigHistory({
  versions,
  names,
  onRollback,
}: {
  versions: ConfigVersion[];
  names: SiteNames;
  onRollback: (to: number) => void;
}) {
  if (versions.length === 0) return <Empty title={t('admin.config.history_empty')} />;
  const newest = versions[0].version;
  return (
    <ol className="admin-list" aria-label={t('admin.config.history')}>
      {versions.map((v) => (
        <li key={v.version} data-testid="config-version-row" className="admin-list-row">
          <span className="admin-list-text">
            <strong>{t('admin.version', { n: v.version })}</strong>
            {' · '}
            <time className="nowrap" dateTime={new Date(v.at).toISOString()}>
              {formatDateTime(v.at)}
            </time>
            {' · '}
            {t('admin.config.by', { author: nameOf(names, v.author) })}
            {' · '}
            {v.comment ? <span>{v.comment}</span> : <span className="muted">{t('admin.config.no_comment')}</span>}
          </span>
          {v.version === newest ? (
            <span className="pill pill-success">{t('admin.config.current_tag')}</span>
          ) : (
            <button type="button" className="button-small" data-testid="config-rollback" onClick={() => onRollback(v.version)}>
              {t('admin.config.rollback')}
            </button>
          )}
        </li>
      ))}
    </ol>
  );
}

/** Sites not running the current configuration. */
export function ConfigDrift({ lines }: { lines: DriftLine[] }) {
  if (lines.length === 0) {
    return (
      <p className="admin-ok-line" data-testid="config-drift-none">
        <span aria-hidden="true">✓ </span>
        {t('admin.config.drift_none')}
      </p>
    );
  }
  return (
    <ul className="admin-list">
      {lines.map((line) => (
        <li key={line.client_id} data-testid="config-drift-row" className="admin-list-row">
          <span className="admin-list-text">
            {line.reported_at === null
              ? t('admin.config.drift_row_unknown', { name: line.name })
              : t('admin.config.drift_row', { name: line.name, at: formatDateTime(line.reported_at) })}
          </span>
          <span className="muted mono admin-id">{line.client_id}</span>
        </li>
      ))}
    </ul>
  );
}
