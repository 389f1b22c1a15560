import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../../api';
import type { Status as AgentStatus } from '../../api';
import { commandError, deferred, makeRun, makeStatus, NOW } from '../../test/fixtures';
import { Status } from './Status';

vi.mock('../../api');

let emit: (s: AgentStatus) => void;
const unlisten = vi.fn();

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.onStatus).mockImplementation(async (cb) => {
    emit = (s) => act(() => cb(s));
    return unlisten;
  });
  vi.mocked(api.history).mockResolvedValue([]);
});

describe('Status: one sentence, one action', () => {
  it('a site that is all synced says so, with the numbers and the configuration in use', async () => {
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ all_synced: true, last_success_at: NOW - 5 * 60_000, config_version: '0.2' }));
    render(<Status />);
    expect(await screen.findByTestId('status-sentence')).toHaveTextContent('All synced · 5 min ago');
    expect(screen.queryByTestId('status-action')).toBeNull();
    expect(screen.getByTestId('queue-depth')).toHaveTextContent(/^0$/);
    expect(screen.getByTestId('dead-letter-count')).toHaveTextContent(/^0$/);
    expect(screen.getByTestId('config-version')).toHaveTextContent('Configuration 0.2');
    expect(screen.getByTestId('sync-now')).toBeEnabled();
    vi.useRealTimers();
  });

  it('staff press Sync Now on a site that never synced and see what was sent', async () => {
    const user = userEvent.setup();
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    const run = deferred<api.SyncRun>();
    vi.mocked(api.syncNow).mockReturnValue(run.promise);
    render(<Status />);

    expect(await screen.findByTestId('status-sentence')).toHaveTextContent('Never synced yet');
    await user.click(screen.getByTestId('status-action'));
    expect(api.syncNow).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId('sync-now')).toBeDisabled();

    await act(async () => run.resolve(makeRun({ trigger: 'manual', sent: 500, rejected: 1, started_at: NOW, finished_at: NOW + 3000 })));
    expect(await screen.findByTestId('status-result')).toHaveTextContent('Sent 500 · 1 refused · 3 s');
    expect(screen.getByTestId('sync-now')).toBeEnabled();
  });

  it('a failed Sync Now shows the agent’s words', async () => {
    const user = userEvent.setup();
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ queue_depth: 4 }));
    vi.mocked(api.syncNow).mockRejectedValue(commandError('offline', 'The server cannot be reached.'));
    render(<Status />);
    await user.click(await screen.findByTestId('sync-now'));
    expect(await screen.findByTestId('error')).toHaveTextContent('The server cannot be reached.');
    expect(screen.queryByTestId('status-result')).toBeNull();
  });

  it('records needing attention send staff to review them', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ dead_letters: 3 }));
    render(<Status />);
    expect(await screen.findByTestId('status-sentence')).toHaveTextContent('3 records need your attention');
    expect(screen.getByTestId('status-action')).toHaveAttribute('href', '#/attention');
    expect(screen.getByTestId('status-action')).toHaveTextContent('Review');
    expect(screen.getByTestId('dead-letter-count')).toHaveTextContent(/^3$/);
  });

  it('revoked access sends staff to Settings, with the engine’s words underneath', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ state: 'error', problem: 'auth', message: 'invalid_client' }));
    render(<Status />);
    expect(await screen.findByTestId('status-sentence')).toHaveTextContent('This PC’s access was revoked — ask your administrator');
    expect(screen.getByTestId('status-detail')).toHaveTextContent('invalid_client');
    expect(screen.getByTestId('status-action')).toHaveAttribute('href', '#/settings');
  });

  it('follows the sync as it runs and fetches the run that just ended', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ queue_depth: 500 }));
    render(<Status />);
    expect(await screen.findByTestId('status-sentence')).toHaveTextContent('500 changes waiting to be sent');

    emit(makeStatus({ state: 'syncing', queue_depth: 300, progress: { sent: 200, total: 500 } }));
    expect(screen.getByTestId('status-sentence')).toHaveTextContent('Syncing… 200 of 500');
    expect(screen.getByTestId('sync-progress')).toHaveAttribute('aria-valuenow', '200');
    expect(screen.getByTestId('sync-now')).toBeDisabled();

    emit(makeStatus({ all_synced: true, last_success_at: Date.now() }));
    expect(screen.queryByTestId('sync-progress')).toBeNull();
    expect(screen.getByTestId('status-sentence')).toHaveTextContent('All synced · just now');
    expect(api.history).toHaveBeenCalledTimes(2);
  });

  it('pauses for an hour, and Resume undoes it', async () => {
    const user = userEvent.setup();
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ all_synced: true }));
    vi.mocked(api.pause).mockResolvedValue();
    vi.mocked(api.resume).mockResolvedValue();
    render(<Status />);

    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ state: 'paused', paused_until: null }));
    await user.click(await screen.findByTestId('pause'));
    expect(api.pause).toHaveBeenCalledWith(60);
    expect(await screen.findByTestId('status-sentence')).toHaveTextContent('Paused until you resume');

    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ all_synced: true }));
    await user.click(screen.getByTestId('status-action'));
    expect(api.resume).toHaveBeenCalledTimes(1);
    expect(await screen.findByTestId('pause')).toBeInTheDocument();
  });

  it('draws the recent syncs, and says so when the status cannot be read', async () => {
    vi.mocked(api.getStatus).mockRejectedValueOnce(commandError('local', 'The agent is not running.'));
    vi.mocked(api.history).mockResolvedValue([makeRun({ id: 2, sent: 40 }), makeRun({ id: 1, outcome: 'offline', sent: 0 })]);
    render(<Status />);
    expect(await screen.findByTestId('error')).toHaveTextContent('The agent is not running.');

    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ all_synced: true }));
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    const chart = await screen.findByRole('img', { name: 'Records sent and refused in the last 2 syncs' });
    expect(within(chart).getAllByTestId('chart-group')).toHaveLength(2);
    expect(api.history).toHaveBeenCalledWith(20);
  });

  it('stops listening when it goes away', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    const { unmount } = render(<Status />);
    await screen.findByTestId('status-sentence');
    unmount();
    expect(unlisten).toHaveBeenCalled();
  });
});
