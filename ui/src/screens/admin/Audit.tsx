import { useCallback, useMemo, useState } from 'react';
import { auditLogs, auditVerify, type AuditEntry } from '../../apiAdmin';
import { Busy } from '../../components/admin/Busy';
import { Pager } from '../../components/admin/Pager';
import { OutcomePill } from '../../components/admin/Pills';
import { Empty, ErrorBanner } from '../../components/States';
import { auditQuery, NO_FILTER, type AuditFilter } from '../../lib/admin/auditQuery';
import { auditSummary, eventLabel } from '../../lib/admin/events';
import { nameOf, useSites } from '../../lib/admin/sites';
import { formatDateTime } from '../../lib/time';
import { useAsync } from '../../lib/useAsync';
import { t } from '../../messages';
import { AuditDrawer } from './parts/AuditDrawer';
import { AuditExport } from './parts/AuditExport';
import { AuditFilters } from './parts/AuditFilters';
import { AuditReport } from './parts/AuditReport';

const PAGE_SIZE = 50;

function ChainBadge() {
  const load = useCallback(() => auditVerify(), []);
  const chain = useAsync(load);
  if (chain.loading && !chain.data) {
    return (
      <span className="admin-chain" data-testid="audit-chain">
        {t('admin.audit.chain_checking')}
      </span>
    );
  }
  if (!chain.data) {
    return (
      <span className="admin-chain" data-testid="audit-chain" title={chain.error?.message}>
        {t('admin.audit.chain_unknown')}
      </span>
    );
  }
  const v = chain.data;
  return v.ok ? (
    <span className="admin-chain admin-chain-ok" data-testid="audit-chain" title={v.last_hash ?? undefined}>
      {t('admin.audit.chain_ok', { n: v.entries_checked })}
    </span>
  ) : (
    <span className="admin-chain admin-chain-bad" data-testid="audit-chain" title={v.first_broken?.reason} role="alert">
      {t('admin.audit.chain_broken', { seq: v.first_broken?.seq ?? '?' })}
    </span>
  );
}

/** Who did what, when: the server's audit log, filtered, paged, and each entry in full in a drawer. */
export function Audit() {
  const fleet = useSites();
  const [filter, setFilter] = useState<AuditFilter>(NO_FILTER);
  // Keyset paging goes older with `next`; the cursors already used lead back to newer pages.
  const [cursors, setCursors] = useState<string[]>([]);
  const [open, setOpen] = useState<AuditEntry | null>(null);

  const base = useMemo(() => auditQuery(filter), [filter]);
  const cursor = cursors.length ? cursors[cursors.length - 1] : null;
  const load = useCallback(() => auditLogs({ ...base, cursor, limit: PAGE_SIZE }), [base, cursor]);
  const page = useAsync(load);

  const change = (f: AuditFilter) => {
    setFilter(f);
    setCursors([]);
  };
  const entries = page.data?.entries ?? [];
  const next = page.data?.next ?? null;

  return (
    <section className="screen admin-screen" data-testid="screen-audit" aria-labelledby="audit-title">
      <header className="admin-head">
        <div>
          <h1 id="audit-title">{t('admin.audit.title')}</h1>
          <ChainBadge />
        </div>
        <div className="admin-head-tools">
          <AuditExport query={base} />
          <AuditReport />
        </div>
      </header>
      <AuditFilters filter={filter} onChange={change} sites={fleet.data ?? []} />

      {page.error && <ErrorBanner message={page.error.message} onRetry={page.reload} />}
      {!page.data && !page.error ? (
        <Busy text={t('admin.loading.audit')} />
      ) : page.data && entries.length === 0 ? (
        <Empty title={t('admin.audit.empty')}>{t('admin.audit.empty_hint')}</Empty>
      ) : page.data ? (
        <div className="table-wrap">
          <table className="admin-table admin-audit" aria-busy={page.loading}>
            <thead>
              <tr>
                <th>{t('admin.audit.col.time')}</th>
                <th>{t('admin.audit.col.event')}</th>
                <th>{t('admin.audit.col.site')}</th>
                <th>{t('admin.audit.col.outcome')}</th>
                <th>{t('admin.audit.col.summary')}</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr
                  key={entry.seq}
                  data-testid="audit-row"
                  tabIndex={0}
                  className={open?.seq === entry.seq ? 'admin-clickable selected' : 'admin-clickable'}
                  aria-selected={open?.seq === entry.seq}
                  onClick={() => setOpen(entry)}
                  onKeyDown={(e) => {
                    if (e.key === 'Enter' || e.key === ' ') {
                      e.preventDefault();
                      setOpen(entry);
                    }
                  }}
                >
                  <td className="nowrap">
                    <time dateTime={new Date(entry.at).toISOString()}>{formatDateTime(entry.at, true)}</time>
                  </td>
                  <td className="nowrap" title={entry.event}>
                    {eventLabel(entry.event)}
                  </td>
                  <td className="nowrap">{nameOf(fleet.names, entry.client_id)}</td>
                  <td>
                    <OutcomePill outcome={entry.outcome} />
                  </td>
                  <td className="admin-summary admin-ellipsis">{auditSummary(entry.event, entry.details)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}

      <Pager
        testId="audit"
        back={t('admin.audit.newer')}
        next={t('admin.audit.older')}
        canBack={cursors.length > 0}
        canNext={next !== null}
        busy={page.loading}
        onBack={() => setCursors((c) => c.slice(0, -1))}
        onNext={() => next && setCursors((c) => [...c, next])}
        where={t('admin.audit.page', { n: cursors.length + 1 })}
      />

      {open && <AuditDrawer entry={open} names={fleet.names} onClose={() => setOpen(null)} />}
    </section>
  );
}
