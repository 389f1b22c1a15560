import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../../api';
import { commandError, makeRun, NOW } from '../../test/fixtures';
import { History } from './History';

vi.mock('../../api');

beforeEach(() => {
  vi.resetAllMocks();
});

describe('History', () => {
  it('lists this PC’s syncs, one line each, in local time and plain words', async () => {
    vi.mocked(api.history).mockResolvedValue([
      makeRun({ id: 3, trigger: 'manual', outcome: 'partial', sent: 500, rejected: 1, started_at: NOW, finished_at: NOW + 3_000 }),
      makeRun({ id: 2, outcome: 'offline', sent: 0, started_at: NOW - 3_600_000, finished_at: NOW - 3_599_500 }),
      makeRun({ id: 1, outcome: null, finished_at: null, sent: 20 }),
    ]);
    render(<History />);
    const rows = await screen.findAllByTestId('history-row');
    expect(api.history).toHaveBeenCalledWith(100);
    expect(rows.map((r) => r.textContent)).toEqual([
      '12 Mar 2025, 14:00Sync NowSome records refusedSent 500 · 1 refused3 s',
      '12 Mar 2025, 13:00ScheduledCouldn’t reach the serverSent 0500 ms',
      '12 Mar 2025, 13:59ScheduledRunning…Sent 20',
    ]);
    expect(document.body.textContent).not.toMatch(/manual|schedule\b|partial/);
  });

  it('says when there are no syncs yet, and shows a failure in the agent’s words', async () => {
    vi.mocked(api.history).mockRejectedValueOnce(commandError('local', 'The local database is locked.'));
    render(<History />);
    expect(await screen.findByTestId('error')).toHaveTextContent('The local database is locked.');
    vi.mocked(api.history).mockResolvedValue([]);
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('No syncs yet')).toBeInTheDocument();
  });
});
