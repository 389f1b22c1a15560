import { useCallback, useMemo, useState } from 'react';
import { configDrift, configVersion, configVersions, type ConfigEntry } from '../../apiAdmin';
import { Busy } from '../../components/admin/Busy';
import { ErrorBanner } from '../../components/States';
import { fieldsFrom } from '../../lib/admin/configForm';
import { nameOf, useSites } from '../../lib/admin/sites';
import { formatDateTime } from '../../lib/time';
import { useAsync } from '../../lib/useAsync';
import { t } from '../../messages';
import { ChangePanel, type Change } from './parts/ChangePanel';
import { ConfigEntries } from './parts/ConfigEntries';
import { ConfigDrift, ConfigHistory } from './parts/ConfigHistory';

/** The tenant's configuration: current settings, changes through a previewed dry run, history and drift. */
export function Config() {
  const fleet = useSites();
  const loadVersions = useCallback(() => configVersions(), []);
  const versions = useAsync(loadVersions);
  const sorted = useMemo(() => [...(versions.data ?? [])].sort((a, b) => b.version - a.version), [versions.data]);
  const newest = sorted[0]?.version ?? null;
  const loadEntries = useCallback(() => (newest === null ? Promise.resolve(null) : configVersion(newest)), [newest]);
  const current = useAsync(loadEntries);
  const loadDrift = useCallback(() => configDrift(), []);
  const drift = useAsync(loadDrift);

  // Each new change remounts the panel (`key`), so its fields start from what was picked.
  const [change, setChange] = useState<{ n: number; change: Change }>({ n: 0, change: { kind: 'set' } });
  const [published, setPublished] = useState<number | null>(null);
  const compose = (next: Change) => setChange((c) => ({ n: c.n + 1, change: next }));

  const onEdit = (entry: ConfigEntry) => compose({ kind: 'set', prefill: fieldsFrom(entry) });
  const onRemove = (entry: ConfigEntry) => compose({ kind: 'unset', scope: entry.scope, key: entry.key });

  const detail = current.data;
  return (
    <section className="screen admin-screen" data-testid="screen-config" aria-labelledby="config-title">
      <header className="admin-head">
        <div>
          <h1 id="config-title">{t('admin.config.title')}</h1>
          {detail && (
            <p className="muted admin-sub">
              {t('admin.config.current_of', { n: detail.version, at: formatDateTime(detail.at), author: nameOf(fleet.names, detail.author) })}
            </p>
          )}
        </div>
      </header>
      {published !== null && (
        <p className="banner banner-ok" role="status" data-testid="config-published">
          {t('admin.config.published', { n: published })}
        </p>
      )}
      {versions.error && <ErrorBanner message={versions.error.message} onRetry={versions.reload} />}
      {current.error && <ErrorBanner message={current.error.message} onRetry={current.reload} />}

      <div className="admin-config-layout">
        <div className="admin-config-main">
          <h2>{t('admin.config.current')}</h2>
          {versions.data && (newest === null || detail) ? (
            <ConfigEntries entries={detail?.entries ?? []} names={fleet.names} onEdit={onEdit} onRemove={onRemove} />
          ) : (
            !versions.error && !current.error && <Busy text={t('admin.loading.config')} />
          )}

          <h2>{t('admin.config.drift')}</h2>
          {drift.error ? (
            <ErrorBanner message={drift.error.message} onRetry={drift.reload} />
          ) : drift.data ? (
            <ConfigDrift lines={drift.data} />
          ) : (
            <Busy text={t('admin.loading.config')} />
          )}

          <h2>{t('admin.config.history')}</h2>
          {versions.data && <ConfigHistory versions={sorted} names={fleet.names} onRollback={(to) => compose({ kind: 'rollback', to })} />}
        </div>
        <aside className="admin-config-side">
          <ChangePanel
            key={change.n}
            change={change.change}
            sites={fleet.data ?? []}
            names={fleet.names}
            onCancel={() => compose({ kind: 'set' })}
            onPublished={(n) => {
              setPublished(n);
              compose({ kind: 'set' });
              versions.reload();
              drift.reload();
            }}
          />
        </aside>
      </div>
    </section>
  );
}
