import type { AuditPage, SiteDetail } from '../../../apiAdmin';
import { Busy } from '../../../components/admin/Busy';
import { OutcomePill } from '../../../components/admin/Pills';
import { ErrorBanner } from '../../../components/States';
import { DateTime } from '../../../components/Time';
import { auditSummary, eventLabel } from '../../../lib/admin/events';
import { batchOutcome, outcomeTone, runOutcome } from '../../../lib/admin/format';
import type { AsyncState } from '../../../lib/useAsync';
import { t } from '../../../messages';

function Nothing({ text }: { text: string }) {
  return <p className="muted admin-nothing">{text}</p>;
}

function Runs({ detail }: { detail: SiteDetail }) {
  if (detail.runs.length === 0) return <Nothing text={t('admin.site.runs_empty')} />;
  return (
    <div className="table-wrap">
      <table className="admin-table">
        <thead>
          <tr>
            <th>{t('admin.site.col.time')}</th>
            <th>{t('admin.site.col.outcome')}</th>
            <th>{t('admin.site.col.result')}</th>
            <th>{t('admin.site.col.message')}</th>
          </tr>
        </thead>
        <tbody>
          {detail.runs.map((run) => (
            <tr key={`${run.started_ms}-${run.finished_ms}`} data-testid="site-run-row">
              <td className="nowrap">
                <DateTime at={run.started_ms} />
              </td>
              <td>
                <span className={`pill ${outcomeTone(run.outcome)}`}>{runOutcome(run.outcome)}</span>
              </td>
              <td className="nowrap">{t('admin.site.run_result', { sent: run.sent, refused: run.refused })}</td>
              <td className="admin-message">{run.message ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Batches({ detail }: { detail: SiteDetail }) {
  if (detail.batches.length === 0) return <Nothing text={t('admin.site.batches_empty')} />;
  return (
    <div className="table-wrap">
      <table className="admin-table">
        <thead>
          <tr>
            <th>{t('admin.site.col.time')}</th>
            <th>{t('admin.site.col.outcome')}</th>
            <th className="num">{t('admin.site.col.records')}</th>
            <th className="num">{t('admin.site.col.applied')}</th>
            <th className="num">{t('admin.site.col.duplicate')}</th>
            <th className="num">{t('admin.site.col.stale')}</th>
            <th className="num">{t('admin.site.col.rejected')}</th>
          </tr>
        </thead>
        <tbody>
          {detail.batches.map((b, i) => (
            <tr key={`${b.received_ms}-${i}`} data-testid="site-batch-row">
              <td className="nowrap">
                <DateTime at={b.received_ms} seconds />
              </td>
              <td>
                <span className={`pill ${outcomeTone(b.outcome)}`}>{batchOutcome(b.outcome)}</span>
              </td>
              <td className="num">{b.records.toLocaleString('en')}</td>
              <td className="num">{b.applied.toLocaleString('en')}</td>
              <td className="num">{b.duplicate.toLocaleString('en')}</td>
              <td className="num">{b.stale.toLocaleString('en')}</td>
              <td className={b.rejected ? 'num admin-bad' : 'num'}>{b.rejected.toLocaleString('en')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Audit({ audit }: { audit: AsyncState<AuditPage> }) {
  if (audit.error) return <ErrorBanner message={audit.error.message} onRetry={audit.reload} />;
  if (!audit.data) return <Busy text={t('admin.loading.audit')} />;
  if (audit.data.entries.length === 0) return <Nothing text={t('admin.site.audit_empty')} />;
  return (
    <div className="table-wrap">
      <table className="admin-table">
        <thead>
          <tr>
            <th>{t('admin.site.col.time')}</th>
            <th>{t('admin.site.col.event')}</th>
            <th>{t('admin.site.col.outcome')}</th>
            <th>{t('admin.site.col.summary')}</th>
          </tr>
        </thead>
        <tbody>
          {audit.data.entries.map((e) => (
            <tr key={e.seq} data-testid="site-audit-row">
              <td className="nowrap">
                <DateTime at={e.at} seconds />
              </td>
              <td className="nowrap" title={e.event}>
                {eventLabel(e.event)}
              </td>
              <td>
                <OutcomePill outcome={e.outcome} />
              </td>
              <td className="admin-summary">{auditSummary(e.event, e.details)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A site's recent runs (as it reported them), the batches the server received, and its audit. */
export function SiteActivity({ detail, audit }: { detail: SiteDetail; audit: AsyncState<AuditPage> }) {
  return (
    <>
      <h2>{t('admin.site.runs')}</h2>
      <Runs detail={detail} />
      <h2>{t('admin.site.batches')}</h2>
      <Batches detail={detail} />
      <h2>{t('admin.site.audit')}</h2>
      <Audit audit={audit} />
    </>
  );
}
