import { useState, type FormEvent } from 'react';
import type { AuditOutcome, SiteName } from '../../../apiAdmin';
import { FilterChip } from '../../../components/admin/Pills';
import { NO_FILTER, presetFilter, type AuditFilter, type Preset } from '../../../lib/admin/auditQuery';
import { GROUP_ORDER, type EventGroup } from '../../../lib/admin/events';
import { formatDateTime } from '../../../lib/time';
import { t } from '../../../messages';

const GROUP_LABEL: Record<EventGroup, string> = {
  sync: 'admin.audit.group.sync',
  signin: 'admin.audit.group.signin',
  config: 'admin.audit.group.config',
  sites: 'admin.audit.group.sites',
  audit: 'admin.audit.group.audit',
};

const PRESETS: { preset: Preset; label: string; testId: string }[] = [
  { preset: 'failures', label: 'admin.audit.preset.failures', testId: 'audit-preset-failures-24h' },
  { preset: 'config', label: 'admin.audit.preset.config', testId: 'audit-preset-config-7d' },
  { preset: 'signins', label: 'admin.audit.preset.signins', testId: 'audit-preset-signins-24h' },
];

const OUTCOMES: { outcome: AuditOutcome | null; label: string }[] = [
  { outcome: null, label: 'admin.audit.outcome.any' },
  { outcome: 'success', label: 'admin.outcome.success' },
  { outcome: 'failure', label: 'admin.outcome.failure' },
];

/** Presets, event-group and outcome chips, a site, and words: each change applies at once (words on Enter). */
export function AuditFilters({
  filter,
  onChange,
  sites,
}: {
  filter: AuditFilter;
  onChange: (f: AuditFilter) => void;
  sites: SiteName[];
}) {
  const [words, setWords] = useState(filter.q);
  const set = (patch: Partial<AuditFilter>) => onChange({ ...filter, ...patch });
  const toggle = (g: EventGroup) =>
    set({ groups: filter.groups.includes(g) ? filter.groups.filter((x) => x !== g) : [...filter.groups, g] });
  const search = (e: FormEvent) => {
    e.preventDefault();
    set({ q: words });
  };
  const filtered = JSON.stringify(filter) !== JSON.stringify(NO_FILTER);

  return (
    <div className="admin-audit-filters" role="group" aria-label={t('admin.audit.filters')}>
      <div className="admin-toolbar" role="group" aria-label={t('admin.audit.presets')}>
        {PRESETS.map((p) => (
          <button
            key={p.preset}
            type="button"
            className="button-small admin-preset"
            data-testid={p.testId}
            onClick={() => {
              const next = presetFilter(p.preset, Date.now());
              setWords('');
              onChange(next);
            }}
          >
            {t(p.label)}
          </button>
        ))}
        {filtered && (
          <button
            type="button"
            className="button-small admin-link-button"
            data-testid="audit-clear"
            onClick={() => {
              setWords('');
              onChange(NO_FILTER);
            }}
          >
            {t('admin.audit.clear')}
          </button>
        )}
      </div>
      <div className="admin-toolbar">
        <span className="admin-toolbar-label">{t('admin.audit.groups')}</span>
        {GROUP_ORDER.map((g) => (
          <FilterChip key={g} pressed={filter.groups.includes(g)} onToggle={() => toggle(g)} testId={`audit-group-${g}`}>
            {t(GROUP_LABEL[g])}
          </FilterChip>
        ))}
        <span className="admin-toolbar-label">{t('admin.audit.outcome')}</span>
        {OUTCOMES.map((o) => (
          <FilterChip
            key={o.label}
            pressed={filter.outcome === o.outcome}
            onToggle={() => set({ outcome: o.outcome })}
            testId={`audit-outcome-${o.outcome ?? 'any'}`}
          >
            {t(o.label)}
          </FilterChip>
        ))}
      </div>
      <form className="admin-toolbar" role="search" onSubmit={search}>
        <label className="admin-inline-label">
          {t('admin.audit.site')}
          <select data-testid="audit-site" value={filter.clientId ?? ''} onChange={(e) => set({ clientId: e.target.value || null })}>
            <option value="">{t('admin.audit.site.any')}</option>
            {sites.map((s) => (
              <option key={s.client_id} value={s.client_id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <input
          type="search"
          aria-label={t('admin.audit.search')}
          placeholder={t('admin.audit.search_placeholder')}
          data-testid="audit-search"
          value={words}
          onChange={(e) => setWords(e.target.value)}
        />
        {filter.since !== null && (
          <FilterChip pressed onToggle={() => set({ since: null })} testId="audit-since">
            {t('admin.audit.since', { at: formatDateTime(filter.since) })} <span aria-hidden="true">✕</span>
          </FilterChip>
        )}
      </form>
    </div>
  );
}
