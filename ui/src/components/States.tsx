import type { ReactNode } from 'react';
import type { CommandError } from '../api';
import { lacksPermission } from '../lib/errors';
import { t } from '../messages';

/** A failed command's message, as the agent worded it. */
export function ErrorBanner({ message, onRetry }: { message: string; onRetry?: () => void }) {
  return (
    <div className="banner banner-error" role="alert" data-testid="error">
      <span>{message}</span>
      {onRetry && (
        <button type="button" className="button-small" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

/** "Loading the sync status…": `text` as it is, or "Loading {what}…", or just "Loading…". */
export function Loading({ what, text }: { what?: string; text?: string }) {
  return (
    <p className="muted loading" role="status">
      {text ?? (what ? t('common.loadingWhat', { what }) : t('common.loading'))}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty" role="status">
      <p className="empty-title">{title}</p>
      {children && <div className="muted">{children}</div>}
    </div>
  );
}

/**
 * A failed read from the server: a 403 means this site's client lacks `scope`, which is not a
 * fault to retry but a permission an admin grants, so it gets an explanation instead.
 */
export function ReadError({
  error,
  scope,
  what,
  onRetry,
}: {
  error: CommandError;
  scope: string;
  what: string;
  onRetry?: () => void;
}) {
  if (lacksPermission(error)) {
    return (
      <Empty title={t('common.readRefused', { what })}>
        {t('common.readRefused.before')}
        <code>{scope}</code>
        {t('common.readRefused.after')}
      </Empty>
    );
  }
  return <ErrorBanner message={error.message} onRetry={onRetry} />;
}
