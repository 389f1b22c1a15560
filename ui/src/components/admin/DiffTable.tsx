import type { ConfigChange, ConfigDiffLine } from '../../apiAdmin';
import { groupDiff } from '../../lib/configDiff';
import { scopeName, type SiteNames } from '../../lib/admin/sites';
import { t } from '../../messages';
import { ConfigValue } from './ConfigValue';

const CHANGE_LABEL: Record<ConfigChange, string> = {
  added: 'admin.config.change.added',
  removed: 'admin.config.change.removed',
  changed: 'admin.config.change.changed',
};

/** What a new version changes: added, removed, then changed lines, each with before → after. */
export function DiffTable({ lines, names }: { lines: ConfigDiffLine[]; names: SiteNames }) {
  if (lines.length === 0) return <p className="muted">{t('admin.config.preview.no_change')}</p>;
  const groups = groupDiff(lines);
  const ordered = [...groups.added, ...groups.removed, ...groups.changed];
  return (
    <div className="table-wrap">
      <table className="admin-table">
        <thead>
          <tr>
            <th>{t('admin.config.diff.col.change')}</th>
            <th>{t('admin.config.diff.col.scope')}</th>
            <th>{t('admin.config.diff.col.key')}</th>
            <th>{t('admin.config.diff.col.value')}</th>
          </tr>
        </thead>
        <tbody>
          {ordered.map((line) => (
            <tr key={`${line.change}:${line.scope}:${line.key}`} data-testid="config-diff-row" data-change={line.change}>
              <td>
                <span className={`pill pill-${line.change}`}>{t(CHANGE_LABEL[line.change])}</span>
              </td>
              <td className="nowrap">{scopeName(names, line.scope)}</td>
              <td className="mono">{line.key}</td>
              <td className="admin-fromto">
                {line.change !== 'added' && (
                  <span className={line.change === 'removed' ? 'admin-removed' : undefined}>
                    <ConfigValue value={line.from} />
                  </span>
                )}
                {line.change === 'changed' && <span className="admin-arrow"> → </span>}
                {line.change !== 'removed' && <ConfigValue value={line.to} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
