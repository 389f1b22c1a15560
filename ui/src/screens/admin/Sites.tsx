import { useCallback, useEffect, useMemo, useState } from 'react';
import { sites, type SiteSummary } from '../../apiAdmin';
import { Chip, FilterChip, StatusPill } from '../../components/admin/Pills';
import { Busy } from '../../components/admin/Busy';
import { Pager } from '../../components/admin/Pager';
import { Empty, ErrorBanner } from '../../components/States';
import { Ago } from '../../components/Time';
import { versionName } from '../../lib/admin/format';
import { hrefFor } from '../../lib/route';
import { useAsync } from '../../lib/useAsync';
import { useNow } from '../../lib/useNow';
import { t } from '../../messages';
import { RegisterDialog } from './parts/RegisterDialog';

function SiteRow({ site, now }: { site: SiteSummary; now: number }) {
  const num = (v: number | null) => (v === null ? t('admin.common.none') : v.toLocaleString('en'));
  return (
    <tr data-testid="sites-row" className={site.needs_attention.length ? 'admin-row-attention' : undefined}>
      <td className="admin-name-cell">
        <a href={hrefFor('site', site.client_id)} className="admin-site-link">
          {site.name}
        </a>
        {site.role === 'admin' && <span className="admin-tag">{t('admin.role.admin')}</span>}
        <div className="muted mono admin-id">{site.client_id}</div>
      </td>
      <td>
        <StatusPill status={site.status} />
      </td>
      <td className="nowrap">
        <Ago at={site.last_seen_ms} now={now} never={t('admin.never_seen')} />
      </td>
      <td className="num">{site.records_24h.toLocaleString('en')}</td>
      <td className={site.rejected_24h ? 'num admin-bad' : 'num'}>{site.rejected_24h.toLocaleString('en')}</td>
      <td className="num">{num(site.queue_depth)}</td>
      <td className="nowrap">
        <span title={site.config_version}>{versionName(site.config_version)}</span>
        {site.config_drift && (
          <span className="admin-drift" title={t('admin.sites.drift_title')}>
            {t('admin.sites.drift')}
          </span>
        )}
      </td>
      <td className="mono nowrap">{site.agent_version ?? t('admin.common.none')}</td>
      <td>
        {site.needs_attention.length === 0 ? (
          <span className="muted">{t('admin.sites.all_well')}</span>
        ) : (
          <span className="admin-chips">
            {site.needs_attention.map((reason) => (
              <Chip key={reason} tone={reason.startsWith('credentials') || reason.includes('refused') ? 'bad' : 'warn'}>
                {reason}
              </Chip>
            ))}
          </span>
        )}
      </td>
    </tr>
  );
}

/** How often the page is read again while the screen is open. */
const FLEET_REFRESH_MS = 30_000;
/** Sites per page: the server reads a page, never the whole fleet. */
export const SITES_PAGE = 100;
/** Typing settles this long before the search goes to the server. */
const SEARCH_SETTLE_MS = 300;

/** The fleet a page at a time, those needing attention first (the server's order). */
export function Sites() {
  const [words, setWords] = useState('');
  const [search, setSearch] = useState('');
  const [onlyAttention, setOnlyAttention] = useState(false);
  // Keyset paging goes on with `next_after`; the cursors already used lead back.
  const [cursors, setCursors] = useState<string[]>([]);
  const [registering, setRegistering] = useState(false);

  useEffect(() => {
    const timer = window.setTimeout(() => {
      setSearch(words.trim());
      setCursors([]);
    }, SEARCH_SETTLE_MS);
    return () => window.clearTimeout(timer);
  }, [words]);

  const after = cursors.length ? cursors[cursors.length - 1] : null;
  const load = useCallback(
    () => sites({ attention: onlyAttention, q: search, after, limit: SITES_PAGE }),
    [onlyAttention, search, after],
  );
  const fleet = useAsync(load);
  // The fleet changes on its own (sites sync, heartbeats arrive): read the page again every 30 s.
  const { reload } = fleet;
  useEffect(() => {
    const timer = window.setInterval(reload, FLEET_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [reload]);
  const now = useNow();

  const shown = useMemo(() => fleet.data?.sites ?? [], [fleet.data]);
  const counts = fleet.data?.counts;
  const attention = counts?.needs_attention ?? 0;
  const filtered = onlyAttention || search !== '';
  const next = fleet.data?.next_after ?? null;
  const first = cursors.length * SITES_PAGE + 1;

  return (
    <section className="screen admin-screen" data-testid="screen-sites" aria-labelledby="sites-title">
      <header className="admin-head">
        <div>
          <h1 id="sites-title">{t('admin.sites.title')}</h1>
          {counts && (
            <p className="muted admin-sub">
              {t('admin.sites.count', { n: counts.sites })}
              {attention > 0 && <> · {t('admin.sites.attention_count', { n: attention })}</>}
            </p>
          )}
        </div>
        <button type="button" className="button-primary" data-testid="sites-register" onClick={() => setRegistering(true)}>
          {t('admin.sites.register')}
        </button>
      </header>

      <div className="admin-toolbar" role="search">
        <input
          type="search"
          aria-label={t('admin.sites.filter')}
          placeholder={t('admin.sites.filter_placeholder')}
          data-testid="sites-filter"
          value={words}
          onChange={(e) => setWords(e.target.value)}
        />
        <FilterChip
          pressed={onlyAttention}
          onToggle={() => {
            setOnlyAttention((v) => !v);
            setCursors([]);
          }}
          testId="sites-attention"
        >
          {t('admin.sites.only_attention')}
          {attention > 0 && <span className="admin-count">{attention}</span>}
        </FilterChip>
      </div>

      {fleet.error && <ErrorBanner message={fleet.error.message} onRetry={fleet.reload} />}
      {!fleet.data && !fleet.error ? (
        <Busy text={t('admin.loading.sites')} />
      ) : fleet.data && shown.length === 0 && !filtered && cursors.length === 0 ? (
        <Empty title={t('admin.sites.empty')}>{t('admin.sites.empty_hint')}</Empty>
      ) : fleet.data && shown.length === 0 ? (
        <Empty title={t('admin.sites.none_match')}>{t('admin.sites.none_match_hint')}</Empty>
      ) : fleet.data ? (
        <div className="table-wrap">
          <table className="admin-table" aria-busy={fleet.loading}>
            <thead>
              <tr>
                <th>{t('admin.sites.col.site')}</th>
                <th>{t('admin.sites.col.status')}</th>
                <th>{t('admin.sites.col.last_seen')}</th>
                <th className="num">{t('admin.sites.col.records')}</th>
                <th className="num">{t('admin.sites.col.refused')}</th>
                <th className="num">{t('admin.sites.col.queue')}</th>
                <th>{t('admin.sites.col.config')}</th>
                <th>{t('admin.sites.col.agent')}</th>
                <th>{t('admin.sites.col.attention')}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((s) => (
                <SiteRow key={s.client_id} site={s} now={now} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}

      {(cursors.length > 0 || next) && (
        <Pager
          testId="sites"
          back={t('admin.sites.previous')}
          next={t('admin.sites.next')}
          canBack={cursors.length > 0}
          canNext={next !== null}
          busy={fleet.loading}
          onBack={() => setCursors((c) => c.slice(0, -1))}
          onNext={() => next && setCursors((c) => [...c, next])}
          where={t('admin.sites.range', { from: first, to: first + shown.length - 1 })}
        />
      )}

      {registering && (
        <RegisterDialog
          onClose={() => {
            setRegistering(false);
            fleet.reload();
          }}
        />
      )}
    </section>
  );
}
