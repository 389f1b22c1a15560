import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as admin from '../../apiAdmin';
import type { AuthCounts, StatsSeries, StatsWindow, SyncFigures, SyncWindow } from '../../apiAdmin';
import { NOW } from '../../test/fixtures';
import { makeSite } from './fixtures';
import { Stats } from './Stats';

vi.mock('../../apiAdmin');
// Chart.js draws on a canvas, which jsdom has not: the chart is a stub that shows what it got.
vi.mock('../../components/admin/SeriesChart', () => ({
  SeriesChart: ({ series, activeIndex }: { series: StatsSeries; activeIndex: number | null }) => (
    <div data-testid="series-chart-stub">{`${series.window}:${series.buckets.length}:${activeIndex ?? '-'}`}</div>
  ),
}));

function figures(applied: number): SyncFigures {
  return { batches: applied / 10, refused_batches: 0, records: applied + 2, applied, duplicate: 1, stale: 1, rejected: 0, p50_batch_ms: 12, p95_batch_ms: 40 };
}

function syncWindow(window: StatsWindow, applied: number): SyncWindow {
  return {
    window,
    since: NOW - 3_600_000,
    total: figures(applied),
    per_client: [
      { client_id: 'kxc_store12', ...figures(applied), rejected: 3 },
      { client_id: 'kxc_gone', ...figures(10) },
    ],
    per_entity: [],
  };
}

const auth = (issued: number): AuthCounts => ({ issued, refreshed: 0, failed: 2, revoked: 0, refresh_reuse: 0, rate_limited: 0 });

function series(window: StatsWindow, n: number): StatsSeries {
  return {
    window,
    since: NOW - n * 3_600_000,
    bucket_ms: 3_600_000,
    buckets: Array.from({ length: n }, (_, i) => ({
      at: NOW - (n - i) * 3_600_000,
      batches: i,
      refused_batches: 0,
      applied: i * 100,
      duplicate: 0,
      stale: 0,
      rejected: i,
      tokens_issued: 1,
      auth_failed: 0,
    })),
  };
}

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(admin.siteNames).mockResolvedValue([makeSite()]);
  vi.mocked(admin.syncStats).mockResolvedValue({ tenant_id: 1, windows: [syncWindow('1h', 50), syncWindow('24h', 1200), syncWindow('7d', 9000)] });
  vi.mocked(admin.authStats).mockResolvedValue({
    tenant_id: 1,
    windows: (['1h', '24h', '7d'] as StatsWindow[]).map((w, i) => ({
      window: w,
      since: 0,
      total: auth(i + 1),
      per_client: [{ client_id: 'kxc_store12', ...auth(1) }],
    })),
  });
  vi.mocked(admin.statsSeries).mockImplementation(async (w) => series(w, w === '1h' ? 12 : 24));
});

describe('Stats', () => {
  it('shows one period everywhere: totals, per-site rows by name, and the series', async () => {
    render(<Stats />);
    expect(await screen.findByTestId('stats-total-applied')).toHaveTextContent('1,200');
    const rows = screen.getAllByTestId('sync-window-row');
    expect(rows).toHaveLength(2);
    expect(await within(rows[0]).findByRole('link', { name: 'Store 12' })).toHaveAttribute('href', '#/site/kxc_store12');
    expect(rows[0]).toHaveTextContent('3');
    expect(rows[1]).toHaveTextContent('kxc_gone');
    expect(await screen.findByTestId('series-chart-stub')).toHaveTextContent('24h:24');
    expect(admin.statsSeries).toHaveBeenCalledWith('24h');
  });

  it('switches the whole screen with the one period selector', async () => {
    const user = userEvent.setup();
    render(<Stats />);
    await screen.findByTestId('series-chart-stub');
    await user.selectOptions(screen.getByTestId('stats-window'), 'Last hour');
    expect(admin.statsSeries).toHaveBeenLastCalledWith('1h');
    expect(screen.getByTestId('stats-total-applied')).toHaveTextContent('50');
    expect(screen.getByTestId('stats-total-signins')).toHaveTextContent('1');
    expect(await screen.findByTestId('series-chart-stub')).toHaveTextContent('1h:12');
    await user.selectOptions(screen.getByTestId('stats-window'), 'Last 7 days');
    expect(screen.getByTestId('stats-total-applied')).toHaveTextContent('9,000');
  });

  it('reads each bucket’s exact values from the keyboard and lists them as a table', async () => {
    const user = userEvent.setup();
    render(<Stats />);
    await screen.findByTestId('series-chart-stub');
    const chart = screen.getByRole('group', { name: 'Records and batches per hour' });
    chart.focus();
    await user.keyboard('{End}');
    const live = screen.getByTestId('stats-series-live');
    expect(live).toHaveTextContent('12 Mar 2025, 13:00: 2,300 applied, 23 rejected, 23 batches');
    expect(screen.getByTestId('series-chart-stub')).toHaveTextContent('24h:24:23');
    await user.keyboard('{ArrowLeft}');
    expect(live).toHaveTextContent('12 Mar 2025, 12:00: 2,200 applied, 22 rejected, 22 batches');
    await user.keyboard('{Home}{ArrowRight}');
    expect(live).toHaveTextContent('11 Mar 2025, 15:00: 100 applied, 1 rejected, 1 batch');

    expect(screen.queryByTestId('stats-series-table')).not.toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Show as table' }));
    const table = screen.getByTestId('stats-series-table');
    expect(within(table).getAllByRole('row')).toHaveLength(25);
    expect(screen.getByRole('button', { name: 'Hide table' })).toHaveAttribute('aria-expanded', 'true');
  });
});
