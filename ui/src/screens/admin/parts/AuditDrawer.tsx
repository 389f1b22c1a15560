import type { AuditEntry } from '../../../apiAdmin';
import { CopyButton } from '../../../components/admin/CopyButton';
import { Drawer } from '../../../components/admin/Drawer';
import { OutcomePill } from '../../../components/admin/Pills';
import { eventLabel } from '../../../lib/admin/events';
import { nameOf, type SiteNames } from '../../../lib/admin/sites';
import { formatDateTime } from '../../../lib/time';
import { t } from '../../../messages';

/** One entry in full: who, what, from where, its place in the chain, and its details. */
export function AuditDrawer({ entry, names, onClose }: { entry: AuditEntry; names: SiteNames; onClose: () => void }) {
  const none = t('admin.common.none');
  return (
    <Drawer title={eventLabel(entry.event)} onClose={onClose} testId="audit-drawer">
      <dl>
        <dt>{t('admin.audit.drawer.time')}</dt>
        <dd className="nowrap">{formatDateTime(entry.at, true)}</dd>
        <dt>{t('admin.audit.drawer.event')}</dt>
        <dd className="mono">{entry.event}</dd>
        <dt>{t('admin.audit.drawer.outcome')}</dt>
        <dd>
          <OutcomePill outcome={entry.outcome} />
        </dd>
        <dt>{t('admin.audit.drawer.site')}</dt>
        <dd>{nameOf(names, entry.client_id)}</dd>
        <dt>{t('admin.audit.drawer.client_id')}</dt>
        <dd className="mono">{entry.client_id ?? none}</dd>
        <dt>{t('admin.audit.drawer.request_id')}</dt>
        <dd className="mono">{entry.request_id ?? none}</dd>
        <dt>{t('admin.audit.drawer.source')}</dt>
        <dd className="mono">{entry.source ?? none}</dd>
        <dt>{t('admin.audit.drawer.seq')}</dt>
        <dd className="mono">{entry.seq}</dd>
        <dt>{t('admin.audit.drawer.hash')}</dt>
        <dd>
          <span className="mono admin-hash" data-testid="audit-hash">
            {entry.hash}
          </span>{' '}
          <CopyButton text={entry.hash} testId="audit-hash-copy" />
        </dd>
      </dl>
      <h3>{t('admin.audit.drawer.details')}</h3>
      <pre data-testid="audit-details" tabIndex={0}>
        {JSON.stringify(entry.details, null, 2)}
      </pre>
    </Drawer>
  );
}
