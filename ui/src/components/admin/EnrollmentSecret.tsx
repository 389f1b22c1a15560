import { t } from '../../messages';
import { CopyButton } from './CopyButton';
import { QrCode } from './QrCode';

/**
 * A one-time enrollment string: read-only, monospace, wrapping anywhere (it is one long
 * token), with Copy, its QR code and the warning that it is shown once.
 * Test ids: `<prefix>-enrollment`, `<prefix>-copy`, `<prefix>-qr`.
 */
export function EnrollmentSecret({ enrollment, prefix }: { enrollment: string; prefix: string }) {
  const id = `${prefix}-enrollment-field`;
  return (
    <div className="admin-enrollment">
      <p className="banner banner-warning admin-once" role="note">
        {t('admin.enrollment.once')}
      </p>
      <div className="admin-enrollment-grid">
        <div className="admin-enrollment-text">
          <label htmlFor={id}>{t('admin.enrollment.label')}</label>
          <textarea
            id={id}
            className="admin-token"
            readOnly
            rows={4}
            value={enrollment}
            data-testid={`${prefix}-enrollment`}
            onFocus={(e) => e.currentTarget.select()}
          />
          <div className="actions">
            <CopyButton text={enrollment} testId={`${prefix}-copy`} />
          </div>
        </div>
        <QrCode text={enrollment} alt={t('admin.enrollment.qr_alt')} testId={`${prefix}-qr`} />
      </div>
    </div>
  );
}
