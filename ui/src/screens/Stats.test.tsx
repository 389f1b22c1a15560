import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../api';
import type { AuthCounts, AuthStats, SyncFigures, SyncStats } from '../api';
import { commandError } from '../test/fixtures';
import { Stats } from './Stats';

vi.mock('../api');

function figures(over: Partial<SyncFigures> = {}): SyncFigures {
  return { batches: 0, refused_batches: 0, records: 0, applied: 0, duplicate: 0, stale: 0, rejected: 0, p50_batch_ms: 0, p95_batch_ms: 0, ...over };
}

function counts(over: Partial<AuthCounts> = {}): AuthCounts {
  return { issued: 0, refreshed: 0, failed: 0, revoked: 0, refresh_reuse: 0, rate_limited: 0, ...over };
}

const SYNC: SyncStats = {
  tenant_id: 1,
  windows: [
    { window: '1h', since: 0, total: figures({ batches: 2, records: 20, applied: 18, rejected: 2, p50_batch_ms: 4.2, p95_batch_ms: 9.5 }), per_client: [], per_entity: [] },
    {
      window: '24h',
      since: 0,
      total: figures({ batches: 5, records: 60, applied: 50, duplicate: 5, stale: 3, rejected: 2, p50_batch_ms: 4, p95_batch_ms: 12 }),
      per_client: [{ client_id: 'site-12', ...figures({ batches: 5, applied: 50, p95_batch_ms: 12 }) }],
      per_entity: [],
    },
    {
      window: '7d',
      since: 0,
      total: figures({ batches: 9, records: 90, applied: 80, duplicate: 5, stale: 3, rejected: 2, p50_batch_ms: 4, p95_batch_ms: 15 }),
      per_client: [
        { client_id: 'site-12', ...figures({ batches: 5 }) },
        { client_id: 'site-14', ...figures({ batches: 4 }) },
      ],
      per_entity: [],
    },
  ],
};

const AUTH: AuthStats = {
  tenant_id: 1,
  windows: [
    { window: '1h', since: 0, total: counts({ issued: 1 }), per_client: [{ client_id: 'site-12', ...counts({ issued: 1 }) }] },
    { window: '24h', since: 0, total: counts({ issued: 4, failed: 2 }), per_client: [{ client_id: null, ...counts({ failed: 2 }) }] },
    { window: '7d', since: 0, total: counts({ issued: 12, failed: 3, revoked: 1 }), per_client: [] },
  ],
};

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.syncStats).mockResolvedValue(SYNC);
  vi.mocked(api.authStats).mockResolvedValue(AUTH);
});

describe('Stats', () => {
  it('charts records by outcome per window and lists batch times', async () => {
    render(<Stats />);
    const chart = await screen.findByRole('img', { name: 'Records by outcome in each window' });
    expect(within(chart).getAllByTestId('chart-group')).toHaveLength(3);
    expect(within(chart).getByText('Last 24 h: 50 applied')).toBeInTheDocument();
    expect(within(chart).getByText('Last 7 days: 2 rejected')).toBeInTheDocument();

    const rows = screen.getAllByTestId('sync-window-row');
    expect(within(rows[0]).getByText('4.2 ms')).toBeInTheDocument();
    expect(within(rows[2]).getByText('15 ms')).toBeInTheDocument();
  });

  it('shows per-client figures for the window the admin picks', async () => {
    const user = userEvent.setup();
    render(<Stats />);
    expect(await screen.findAllByTestId('sync-client-row')).toHaveLength(1);
    expect(screen.getByTestId('auth-client-row')).toHaveTextContent('unknown client');

    await user.click(screen.getByTestId('stats-window-7d'));
    expect(screen.getAllByTestId('sync-client-row')).toHaveLength(2);
    expect(screen.getByText('No authentication events in this window.')).toBeInTheDocument();
  });

  it('charts authentication events', async () => {
    render(<Stats />);
    const chart = await screen.findByRole('img', { name: 'Authentication events in each window' });
    expect(within(chart).getByText('Last 7 days: 3 failed sign-ins')).toBeInTheDocument();
  });

  it('explains a missing stats:read permission and shows quiet weeks as empty', async () => {
    vi.mocked(api.syncStats).mockRejectedValue(commandError('permission', '403 Forbidden'));
    vi.mocked(api.authStats).mockResolvedValue({
      tenant_id: 1,
      windows: ['1h', '24h', '7d'].map((window) => ({ window, since: 0, total: counts(), per_client: [] })),
    });
    render(<Stats />);
    expect(await screen.findByText('This site may not read the sync statistics.')).toBeInTheDocument();
    expect(await screen.findByText('No sign-ins or token activity in the last week.')).toBeInTheDocument();
  });

  it('shows other failures as errors', async () => {
    vi.mocked(api.authStats).mockRejectedValue(commandError('offline', 'The server cannot be reached.'));
    render(<Stats />);
    expect(await screen.findByTestId('error')).toHaveTextContent('The server cannot be reached.');
  });
});
