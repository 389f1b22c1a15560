import { useCallback, useEffect, useState } from 'react';
import { alerts, type AlertView } from '../../apiAdmin';
import { Busy } from '../../components/admin/Busy';
import { FilterChip } from '../../components/admin/Pills';
import { Empty, ErrorBanner } from '../../components/States';
import { hrefFor } from '../../lib/route';
import { formatDateTime } from '../../lib/time';
import { useAsync } from '../../lib/useAsync';
import { t } from '../../messages';

/** How often the alerts are read again while the screen is open (a pass runs every minute). */
const ALERTS_REFRESH_MS = 30_000;

type Shown = 'open' | 'resolved' | null;

/** A figure as people read it: whole numbers without decimals. */
function figure(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function AlertRow({ alert }: { alert: AlertView }) {
  const open = alert.state === 'open';
  return (
    <tr data-testid="alert-row" className={open ? 'admin-alert-open' : undefined}>
      <td className="nowrap">
        <time dateTime={new Date(alert.opened_at).toISOString()}>{formatDateTime(alert.opened_at, true)}</time>
      </td>
      <td className="nowrap" data-testid="alert-kind">
        {t(`admin.alerts.kind.${alert.kind}`)}
      </td>
      <td className="nowrap">
        {alert.client_id ? (
          <a href={hrefFor('site', alert.client_id)}>{alert.site_name ?? alert.client_id}</a>
        ) : alert.kind === 'audit_chain' ? (
          t('admin.alerts.server')
        ) : (
          t('admin.alerts.all_sites')
        )}
      </td>
      <td className="nowrap num">
        {figure(alert.observed)} / {figure(alert.baseline)}
      </td>
      <td className="admin-summary">{alert.summary}</td>
      <td className="nowrap">
        {open ? (
          <span className="pill pill-failure">
            <span aria-hidden="true">! </span>
            {t('admin.alerts.state.open')}
          </span>
        ) : (
          <span className="pill pill-success">
            <span aria-hidden="true">✓ </span>
            {t('admin.alerts.state.resolved', { at: formatDateTime(alert.resolved_at ?? alert.opened_at, true) })}
          </span>
        )}
      </td>
    </tr>
  );
}

/** The anomalies the server found in the tenant's sites: open ones first, re-read every 30 s. */
export function Alerts() {
  const [shown, setShown] = useState<Shown>(null);
  const load = useCallback(() => alerts(shown), [shown]);
  const list = useAsync(load);
  const { reload } = list;
  useEffect(() => {
    const timer = window.setInterval(reload, ALERTS_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [reload]);
  const rows = list.data ?? [];
  const open = rows.filter((a) => a.state === 'open').length;

  return (
    <section className="screen admin-screen" data-testid="screen-alerts" aria-labelledby="alerts-title">
      <header className="admin-head">
        <div>
          <h1 id="alerts-title">{t('admin.alerts.title')}</h1>
          <p className="muted admin-sub">{t('admin.alerts.sub')}</p>
        </div>
        {list.data && shown !== 'resolved' && (
          <span className={`admin-chain ${open ? 'admin-chain-bad' : 'admin-chain-ok'}`} data-testid="alerts-open-count">
            {t('admin.alerts.open_count', { n: open })}
          </span>
        )}
      </header>
      <div className="admin-toolbar" role="group" aria-label={t('admin.alerts.title')}>
        {(['open', 'resolved', null] as Shown[]).map((which) => (
          <FilterChip key={which ?? 'all'} pressed={shown === which} onToggle={() => setShown(which)} testId={`alerts-show-${which ?? 'all'}`}>
            {t(`admin.alerts.show.${which ?? 'all'}`)}
          </FilterChip>
        ))}
      </div>

      {list.error && <ErrorBanner message={list.error.message} onRetry={list.reload} />}
      {!list.data && !list.error ? (
        <Busy text={t('admin.loading.alerts')} />
      ) : list.data && rows.length === 0 ? (
        <Empty title={t('admin.alerts.empty')}>{t('admin.alerts.empty_hint')}</Empty>
      ) : list.data ? (
        <div className="table-wrap">
          <table className="admin-table admin-alerts" aria-busy={list.loading}>
            <thead>
              <tr>
                <th>{t('admin.alerts.col.opened')}</th>
                <th>{t('admin.alerts.col.kind')}</th>
                <th>{t('admin.alerts.col.site')}</th>
                <th>{t('admin.alerts.col.value')}</th>
                <th>{t('admin.alerts.col.summary')}</th>
                <th>{t('admin.alerts.col.state')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((alert) => (
                <AlertRow key={alert.id} alert={alert} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
