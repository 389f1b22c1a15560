import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as admin from '../../apiAdmin';
import type { AlertView } from '../../apiAdmin';
import { NOW } from '../../test/fixtures';
import { Alerts } from './Alerts';

vi.mock('../../apiAdmin');

function alert(over: Partial<AlertView>): AlertView {
  return {
    id: 1,
    kind: 'auth_failures',
    state: 'open',
    client_id: 'kxc_store12',
    site_name: 'Store 12',
    opened_at: NOW - 120_000,
    resolved_at: null,
    observed: 25,
    baseline: 20,
    summary: 'Store 12: 25 failed sign-ins in 5 minutes (usual about 0; unusual above 20)',
    ...over,
  };
}

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(admin.alerts).mockResolvedValue([
    alert({}),
    alert({ id: 2, kind: 'stale', state: 'resolved', resolved_at: NOW - 60_000, observed: 16, baseline: 15, summary: 'Store 9: silent for 16 minutes' }),
    alert({ id: 3, kind: 'audit_chain', client_id: null, site_name: null, observed: 12, baseline: 40, summary: 'the audit chain does not verify at entry 12' }),
    alert({ id: 4, client_id: null, site_name: null, observed: 60, baseline: 50, summary: 'all sites together: 60 failed sign-ins in 5 minutes' }),
  ]);
});

describe('Alerts', () => {
  it('lists open alerts with the site, the value against its baseline and plain words', async () => {
    render(<Alerts />);
    const rows = await screen.findAllByTestId('alert-row');
    expect(rows).toHaveLength(4);
    expect(within(rows[0]).getByText('Failed sign-ins')).toBeTruthy();
    expect(within(rows[0]).getByRole('link', { name: 'Store 12' }).getAttribute('href')).toBe('#/site/kxc_store12');
    expect(within(rows[0]).getByText('25 / 20')).toBeTruthy();
    expect(within(rows[0]).getByText(/25 failed sign-ins/)).toBeTruthy();
    expect(within(rows[1]).getByText('Gone quiet')).toBeTruthy();
    expect(within(rows[1]).getByText(/^Resolved/)).toBeTruthy();
    expect(within(rows[2]).getByText('The server')).toBeTruthy();
    expect(within(rows[3]).getByText('All sites')).toBeTruthy();
    expect(screen.getByTestId('alerts-open-count').textContent).toBe('3 open alerts');
  });

  it('asks the server for open or resolved alerts only when told to', async () => {
    render(<Alerts />);
    await screen.findAllByTestId('alert-row');
    expect(admin.alerts).toHaveBeenLastCalledWith(null);
    await userEvent.click(screen.getByTestId('alerts-show-open'));
    expect(admin.alerts).toHaveBeenLastCalledWith('open');
    await userEvent.click(screen.getByTestId('alerts-show-resolved'));
    expect(admin.alerts).toHaveBeenLastCalledWith('resolved');
  });

  it('says so when every site looks as usual', async () => {
    vi.mocked(admin.alerts).mockResolvedValue([]);
    render(<Alerts />);
    expect(await screen.findByText('No alerts')).toBeTruthy();
    expect(screen.getByText('Every site looks as usual.')).toBeTruthy();
  });
});
