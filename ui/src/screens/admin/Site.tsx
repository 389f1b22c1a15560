import { useCallback, useState, type ReactNode } from 'react';
import { auditLogs, revokeSite, site, type SiteDetail } from '../../apiAdmin';
import { Busy } from '../../components/admin/Busy';
import { ConfirmDialog } from '../../components/admin/ConfirmDialog';
import { Chip, StatusPill } from '../../components/admin/Pills';
import { Empty, ErrorBanner } from '../../components/States';
import { Ago } from '../../components/Time';
import { useNow } from '../../lib/useNow';
import { hrefFor } from '../../lib/route';
import { formatAgo, formatDuration } from '../../lib/time';
import { useAsync } from '../../lib/useAsync';
import { versionName } from '../../lib/admin/format';
import { t } from '../../messages';
import { RotateDialog } from './parts/RotateDialog';
import { SiteActivity } from './parts/SiteActivity';

function Card({ title, rows }: { title: string; rows: [string, ReactNode][] }) {
  return (
    <section className="admin-card" aria-label={title}>
      <h2>{title}</h2>
      <dl>
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function Cards({ detail, now }: { detail: SiteDetail; now: number }) {
  const s = detail.site;
  const none = <span className="muted">{t('admin.site.not_reported')}</span>;
  return (
    <div className="admin-cards">
      <Card
        title={t('admin.site.queue')}
        rows={[
          [t('admin.site.queue_depth'), s.queue_depth === null ? none : s.queue_depth.toLocaleString('en')],
          [
            t('admin.site.oldest'),
            s.oldest_pending_ms === null ? t('admin.common.none') : <span className="nowrap">{formatAgo(s.oldest_pending_ms, now)}</span>,
          ],
          [
            t('admin.site.dead_letters'),
            s.dead_letters === null ? none : <span className={s.dead_letters ? 'admin-bad' : undefined}>{s.dead_letters}</span>,
          ],
        ]}
      />
      <Card
        title={t('admin.site.config')}
        rows={[
          [t('admin.site.config_version'), <span title={s.config_version}>{versionName(s.config_version)}</span>],
          [
            t('admin.site.drift'),
            s.config_drift ? <span className="admin-warn">{t('admin.site.drift_yes')}</span> : t('admin.site.drift_no'),
          ],
        ]}
      />
      <Card
        title={t('admin.site.agent')}
        rows={[
          [t('admin.site.agent_version'), s.agent_version ? <span className="mono">{s.agent_version}</span> : none],
          [t('admin.site.interval'), formatDuration(s.interval_secs * 1000)],
        ]}
      />
    </div>
  );
}

/** One site: its state, its recent runs, batches and audit, and revoke / rotate. */
export function Site({ clientId }: { clientId: string }) {
  const now = useNow();
  const loadSite = useCallback(() => site(clientId), [clientId]);
  const detail = useAsync(loadSite);
  const loadAudit = useCallback(() => auditLogs({ client_id: clientId, limit: 20 }), [clientId]);
  const audit = useAsync(loadAudit);
  const [dialog, setDialog] = useState<'revoke' | 'rotate' | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const s = detail.data?.site;
  const name = s?.name ?? clientId;

  return (
    <section className="screen admin-screen" data-testid="screen-site" aria-labelledby="site-title">
      <a href={hrefFor('sites')} className="admin-back" data-testid="site-back">
        {t('admin.site.back')}
      </a>
      {detail.error &&
        (detail.error.code === 'not_found' ? (
          <Empty title={t('admin.site.not_found', { id: clientId })} />
        ) : (
          <ErrorBanner message={detail.error.message} onRetry={detail.reload} />
        ))}
      {!detail.data && !detail.error && <Busy text={t('admin.loading.site')} />}
      {s && detail.data && (
        <>
          <header className="admin-head">
            <div>
              <h1 id="site-title">
                {s.name} <StatusPill status={s.status} testId="site-status" />
              </h1>
              <p className="muted admin-sub">
                <span className="mono">{s.client_id}</span>
                {' · '}
                {s.last_seen_ms === null ? (
                  t('admin.site.never_seen')
                ) : (
                  <>
                    {t('admin.site.last_seen')} <Ago at={s.last_seen_ms} now={now} />
                  </>
                )}
              </p>
            </div>
            <div className="actions">
              <button type="button" data-testid="site-rotate" disabled={s.status !== 'active'} onClick={() => setDialog('rotate')}>
                {t('admin.rotate.button')}
              </button>
              <button
                type="button"
                className="button-danger"
                data-testid="site-revoke"
                disabled={s.status !== 'active'}
                onClick={() => setDialog('revoke')}
              >
                {t('admin.revoke.button')}
              </button>
            </div>
          </header>
          {notice && (
            <p className="banner banner-ok" role="status">
              {notice}
            </p>
          )}
          {s.needs_attention.length > 0 && (
            <div className="admin-attention" aria-label={t('admin.site.attention')}>
              <strong>{t('admin.site.attention')}</strong>
              <span className="admin-chips">
                {s.needs_attention.map((r) => (
                  <Chip key={r}>{r}</Chip>
                ))}
              </span>
            </div>
          )}
          <Cards detail={detail.data} now={now} />
          <SiteActivity detail={detail.data} audit={audit} />
        </>
      )}

      {dialog === 'revoke' && s && (
        <ConfirmDialog
          title={t('admin.revoke.title', { name })}
          body={t('admin.revoke.body', { name })}
          confirm={t('admin.revoke.confirm', { name })}
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await revokeSite(clientId);
            setDialog(null);
            setNotice(t('admin.revoke.done', { name }));
            detail.reload();
            audit.reload();
          }}
        />
      )}
      {dialog === 'rotate' && s && (
        <RotateDialog
          clientId={clientId}
          name={name}
          onClose={() => {
            setDialog(null);
            detail.reload();
            audit.reload();
          }}
        />
      )}
    </section>
  );
}
