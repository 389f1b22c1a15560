import type { Progress } from '../../../api';
import { t } from '../../../messages';

/** The bar under "Syncing… 200 of 500"; it runs without a figure until the total is known. */
export function SyncProgress({ progress }: { progress: Progress | null }) {
  const percent = progress && progress.total > 0 ? Math.min(100, Math.round((progress.sent / progress.total) * 100)) : null;
  return (
    <div
      className={percent === null ? 'progress progress-indeterminate' : 'progress'}
      role="progressbar"
      aria-label={t('status.progress.label')}
      aria-valuemin={0}
      aria-valuemax={progress?.total ?? undefined}
      aria-valuenow={progress?.sent ?? undefined}
      aria-valuetext={percent === null ? t('status.progress.preparing') : undefined}
      data-testid="sync-progress"
    >
      <div className="progress-bar" style={{ width: `${percent ?? 100}%` }} />
    </div>
  );
}
