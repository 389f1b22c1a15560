import type { ConfigEntry } from '../../../apiAdmin';
import { ConfigValue, TypeBadge } from '../../../components/admin/ConfigValue';
import { Empty } from '../../../components/States';
import { scopeName, type SiteNames } from '../../../lib/admin/sites';
import { t } from '../../../messages';

/** Global first, then the tenant, then each site by name. */
function groupByScope(entries: ConfigEntry[], names: SiteNames): [string, ConfigEntry[]][] {
  const groups = new Map<string, ConfigEntry[]>();
  for (const e of entries) groups.set(e.scope, [...(groups.get(e.scope) ?? []), e]);
  const rank = (scope: string) => (scope === 'global' ? 0 : scope === 'tenant' ? 1 : 2);
  return [...groups.entries()]
    .map(([scope, list]): [string, ConfigEntry[]] => [scope, [...list].sort((a, b) => a.key.localeCompare(b.key))])
    .sort(([a], [b]) => rank(a) - rank(b) || scopeName(names, a).localeCompare(scopeName(names, b)));
}

/** The newest version's settings, grouped by scope, typed, secrets masked. */
export function ConfigEntries({
  entries,
  names,
  onEdit,
  onRemove,
}: {
  entries: ConfigEntry[];
  names: SiteNames;
  onEdit: (entry: ConfigEntry) => void;
  onRemove: (entry: ConfigEntry) => void;
}) {
  if (entries.length === 0) return <Empty title={t('admin.config.empty')}>{t('admin.config.empty_hint')}</Empty>;
  return (
    <div className="table-wrap">
      <table className="admin-table admin-entries">
        <thead>
          <tr>
            <th>{t('admin.config.col.key')}</th>
            <th>{t('admin.config.col.value')}</th>
            <th>{t('admin.config.col.type')}</th>
            <th>
              <span className="visually-hidden">{t('admin.config.edit')}</span>
            </th>
          </tr>
        </thead>
        {groupByScope(entries, names).map(([scope, list]) => (
          <tbody key={scope} data-testid="config-scope-group">
            <tr className="admin-group-row">
              <th colSpan={4} scope="colgroup">
                {scopeName(names, scope)}
              </th>
            </tr>
            {list.map((entry) => (
              <tr key={entry.key} data-testid="config-entry-row">
                <td className="mono">{entry.key}</td>
                <td>
                  <ConfigValue value={entry.value} secret={entry.secret} />
                  {entry.secret && entry.reveal && <span className="muted admin-note"> · {t('admin.config.revealed')}</span>}
                </td>
                <td>
                  <TypeBadge type={entry.type} />
                </td>
                <td className="admin-row-actions">
                  {scope !== 'global' && (
                    <>
                      <button type="button" className="button-small" data-testid="config-edit" onClick={() => onEdit(entry)}>
                        {t('admin.config.edit')}
                      </button>
                      <button type="button" className="button-small" data-testid="config-remove" onClick={() => onRemove(entry)}>
                        {t('admin.config.remove')}
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        ))}
      </table>
    </div>
  );
}
