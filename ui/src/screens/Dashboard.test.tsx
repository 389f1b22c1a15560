import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../api';
import type { Status } from '../api';
import { commandError, deferred, makeRun, makeStatus, NOW } from '../test/fixtures';
import { Dashboard } from './Dashboard';

vi.mock('../api');

let emit: (s: Status) => void;
const unlisten = vi.fn();

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.onStatus).mockImplementation(async (cb) => {
    emit = (s) => act(() => cb(s));
    return unlisten;
  });
  vi.mocked(api.history).mockResolvedValue([]);
});

describe('Dashboard', () => {
  it('says "All synced" only when the agent says everything is synced', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ all_synced: true }));
    render(<Dashboard />);
    expect(await screen.findByTestId('status-state')).toHaveTextContent('All synced');

    emit(makeStatus({ all_synced: false, queue_depth: 4 }));
    expect(screen.getByTestId('status-state')).toHaveTextContent(/^idle$/);
    expect(screen.getByTestId('queue-depth')).toHaveTextContent(/^4$/);
  });

  it('shows the error state and the reason the agent gives', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(
      makeStatus({ state: 'error', message: 'The server refused the client secret.' }),
    );
    render(<Dashboard />);
    expect(await screen.findByTestId('status-state')).toHaveTextContent('error');
    expect(screen.getByText('The server refused the client secret.')).toBeInTheDocument();
  });

  it('shows queue depth, dead letters as a link, last success and the warning', async () => {
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
    vi.mocked(api.getStatus).mockResolvedValue(
      makeStatus({
        queue_depth: 120,
        dead_letters: 3,
        last_success_at: NOW - 5 * 60_000,
        warning: 'The audit chain no longer contains the head this agent saw.',
      }),
    );
    render(<Dashboard />);
    expect(await screen.findByTestId('queue-depth')).toHaveTextContent('120');
    const dead = screen.getByTestId('dead-letter-count');
    expect(dead).toHaveTextContent(/^3$/);
    expect(dead).toHaveAttribute('href', '#/dead-letters');
    expect(screen.getByTestId('last-success')).toHaveTextContent('5 min ago (2025-03-12 13:55:00)');
    expect(screen.getByTestId('warning')).toHaveTextContent('audit chain');
    vi.useRealTimers();
  });

  it('shows a progress bar while syncing and follows status events', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    render(<Dashboard />);
    await screen.findByTestId('status-state');
    expect(screen.queryByTestId('sync-progress')).not.toBeInTheDocument();

    emit(makeStatus({ state: 'syncing', progress: { sent: 250, total: 1000 } }));
    const bar = screen.getByTestId('sync-progress');
    expect(bar).toHaveAttribute('aria-valuenow', '250');
    expect(screen.getByText('250 of 1000 records sent')).toBeInTheDocument();
    expect(screen.getByTestId('sync-now')).toBeDisabled();

    emit(makeStatus({ state: 'syncing', progress: { sent: 750, total: 1000 } }));
    expect(screen.getByTestId('sync-progress')).toHaveAttribute('aria-valuenow', '750');

    emit(makeStatus({ state: 'idle', all_synced: true }));
    expect(screen.queryByTestId('sync-progress')).not.toBeInTheDocument();
    expect(screen.getByTestId('status-state')).toHaveTextContent('All synced');
    // The run that just ended is fetched for the chart.
    expect(api.history).toHaveBeenCalledTimes(2);
  });

  it('Sync Now runs a sync, and a failure is shown as the agent worded it', async () => {
    const user = userEvent.setup();
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    const run = deferred<api.SyncRun>();
    vi.mocked(api.syncNow).mockReturnValue(run.promise);
    render(<Dashboard />);

    await user.click(await screen.findByTestId('sync-now'));
    expect(api.syncNow).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId('sync-now')).toBeDisabled();

    await act(async () => run.reject(commandError('offline', 'The server cannot be reached.')));
    expect(await screen.findByTestId('error')).toHaveTextContent('The server cannot be reached.');
    expect(screen.getByTestId('sync-now')).toBeEnabled();
  });

  it('pauses for an hour and offers Resume while paused', async () => {
    const user = userEvent.setup();
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    vi.mocked(api.pause).mockResolvedValue();
    vi.mocked(api.resume).mockResolvedValue();
    render(<Dashboard />);

    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ state: 'paused', paused_until: NOW }));
    await user.click(await screen.findByTestId('pause'));
    expect(api.pause).toHaveBeenCalledWith(60);

    await user.click(await screen.findByTestId('resume'));
    expect(api.resume).toHaveBeenCalledTimes(1);
  });

  it('draws one bar group per recent run', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    vi.mocked(api.history).mockResolvedValue([
      makeRun({ id: 3, applied: 40 }),
      makeRun({ id: 2, applied: 5, rejected: 2, outcome: 'partial' }),
      makeRun({ id: 1, outcome: 'offline', applied: 0 }),
    ]);
    render(<Dashboard />);
    const chart = await screen.findByRole('img', { name: /last 3 sync runs/ });
    expect(within(chart).getAllByTestId('chart-group')).toHaveLength(3);
    expect(api.history).toHaveBeenCalledWith(20);
  });

  it('says so when there are no runs yet, and when the status cannot be read', async () => {
    vi.mocked(api.getStatus).mockRejectedValue(commandError('local', 'The agent is not running.'));
    render(<Dashboard />);
    expect(await screen.findByTestId('error')).toHaveTextContent('The agent is not running.');

    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('No sync runs yet.')).toBeInTheDocument();
  });

  it('stops listening for status events when it goes away', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    const { unmount } = render(<Dashboard />);
    await screen.findByTestId('status-state');
    unmount();
    expect(unlisten).toHaveBeenCalled();
  });
});
