import type { SyncRun } from '../../../api';
import { BarChart } from '../../../components/BarChart';
import { Empty } from '../../../components/States';
import { outcomeWords } from '../../../lib/runSummary';
import { formatShort } from '../../../lib/time';
import { t } from '../../../messages';

/** The last runs as small bars: records sent and refused, the outcome's colour under each. */
export function RecentRuns({ runs, now }: { runs: SyncRun[]; now: number }) {
  if (runs.length === 0) {
    return <Empty title={t('status.runs.none')}>{t('status.runs.noneDetail')}</Empty>;
  }
  const series = [
    { key: 'sent', label: t('status.runs.sent'), className: 'fill-applied' },
    { key: 'rejected', label: t('status.runs.refused'), className: 'fill-rejected' },
  ];
  const oldestFirst = [...runs].reverse();
  return (
    <BarChart
      title={t('status.runs.chart', { n: runs.length })}
      series={series}
      groups={oldestFirst.map((run) => ({
        key: run.id,
        label: formatShort(run.started_at, now).replace(/^.*, /, ''),
        values: { sent: run.sent, rejected: run.rejected },
        marker: { className: `fill-outcome-${run.outcome ?? 'running'}`, label: outcomeWords(run) },
      }))}
    />
  );
}
