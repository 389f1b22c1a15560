import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as admin from '../../apiAdmin';
import { commandError, NOW } from '../../test/fixtures';
import { makeSite } from './fixtures';
import { Sites } from './Sites';

vi.mock('../../apiAdmin');

const FLEET = [
  makeSite({
    name: 'Store 7',
    client_id: 'kxc_store7',
    last_seen_ms: null,
    last_batch_ms: null,
    queue_depth: null,
    needs_attention: ['never synced: no token, batch or heartbeat yet'],
  }),
  makeSite({ config_drift: true, config_version: '1.2' }),
  makeSite({ name: 'Old depot', client_id: 'kxc_old', status: 'revoked' }),
];

const COUNTS = { sites: 3, needs_attention: 1, revoked: 1 };

function page(sites = FLEET, next_after: string | null = null) {
  return { sites, next_after, counts: COUNTS };
}

beforeEach(() => {
  vi.resetAllMocks();
  vi.spyOn(Date, 'now').mockReturnValue(NOW);
  vi.mocked(admin.sites).mockResolvedValue(page());
});

describe('Sites', () => {
  it('lists the fleet in the server order with names, status, last seen, drift and reasons', async () => {
    render(<Sites />);
    const rows = await screen.findAllByTestId('sites-row');
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveTextContent('Store 7');
    expect(rows[0]).toHaveTextContent('Active');
    expect(rows[0]).toHaveTextContent('Never seen');
    expect(within(rows[0]).getByText('never synced: no token, batch or heartbeat yet')).toBeInTheDocument();
    expect(within(rows[0]).getByRole('link', { name: 'Store 7' })).toHaveAttribute('href', '#/site/kxc_store7');

    expect(rows[1]).toHaveTextContent('Version 2');
    expect(within(rows[1]).getByText('drift')).toBeInTheDocument();
    expect(rows[1]).toHaveTextContent('min ago');
    expect(rows[2]).toHaveTextContent('Revoked');
    expect(screen.getByText(/1 site needs attention/)).toBeInTheDocument();
  });

  it('asks the server for the sites needing attention, and for the words typed', async () => {
    const user = userEvent.setup();
    render(<Sites />);
    await screen.findAllByTestId('sites-row');
    expect(admin.sites).toHaveBeenLastCalledWith({ attention: false, q: '', after: null, limit: 100 });

    vi.mocked(admin.sites).mockResolvedValue(page([FLEET[0]]));
    await user.click(screen.getByRole('button', { name: /Needs attention/ }));
    await waitFor(() => expect(screen.getAllByTestId('sites-row')).toHaveLength(1));
    expect(admin.sites).toHaveBeenLastCalledWith({ attention: true, q: '', after: null, limit: 100 });
    await user.click(screen.getByRole('button', { name: /Needs attention/ }));

    vi.mocked(admin.sites).mockResolvedValue(page([FLEET[2]]));
    await user.type(screen.getByLabelText('Filter sites'), 'depot');
    await waitFor(() => expect(admin.sites).toHaveBeenLastCalledWith({ attention: false, q: 'depot', after: null, limit: 100 }));
    await waitFor(() => expect(screen.getByTestId('sites-row')).toHaveTextContent('Old depot'));

    vi.mocked(admin.sites).mockResolvedValue(page([]));
    await user.type(screen.getByLabelText('Filter sites'), ' nowhere');
    expect(await screen.findByText('No sites match the filter')).toBeInTheDocument();
  });

  it('pages through a large fleet with the server’s cursor, and back', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.sites).mockResolvedValue(page(FLEET, 'kxc_old'));
    render(<Sites />);
    await screen.findAllByTestId('sites-row');
    expect(screen.getByTestId('sites-where')).toHaveTextContent('Sites 1–3');
    expect(screen.getByTestId('sites-back')).toBeDisabled();

    vi.mocked(admin.sites).mockResolvedValue(page([makeSite({ name: 'Store 99', client_id: 'kxc_99' })]));
    await user.click(screen.getByTestId('sites-next'));
    await waitFor(() => expect(screen.getByTestId('sites-row')).toHaveTextContent('Store 99'));
    expect(admin.sites).toHaveBeenLastCalledWith({ attention: false, q: '', after: 'kxc_old', limit: 100 });
    expect(screen.getByTestId('sites-where')).toHaveTextContent('Sites 101–101');
    expect(screen.getByTestId('sites-next')).toBeDisabled();

    vi.mocked(admin.sites).mockResolvedValue(page(FLEET, 'kxc_old'));
    await user.click(screen.getByTestId('sites-back'));
    await waitFor(() => expect(screen.getAllByTestId('sites-row')).toHaveLength(3));
    expect(admin.sites).toHaveBeenLastCalledWith({ attention: false, q: '', after: null, limit: 100 });
  });

  it('registers a site: shows the one-time string with Copy and a QR code, and refreshes on close', async () => {
    const user = userEvent.setup();
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    vi.mocked(admin.registerSite).mockResolvedValue({
      client_id: 'kxc_new',
      name: 'Store 40',
      scopes: 'sync:write config:read',
      tenant_id: 1,
      enrollment: 'kendrix1:' + 'x'.repeat(180),
    });
    render(<Sites />);
    await screen.findAllByTestId('sites-row');

    await user.click(screen.getByTestId('sites-register'));
    expect(screen.getByTestId('register-submit')).toBeDisabled();
    await user.type(screen.getByTestId('register-name'), 'Store 40');
    await user.click(screen.getByTestId('register-submit'));

    expect(admin.registerSite).toHaveBeenCalledWith('Store 40');
    const field = await screen.findByTestId('register-enrollment');
    expect(field).toHaveValue('kendrix1:' + 'x'.repeat(180));
    expect(field).toHaveAttribute('readonly');
    expect(screen.getByText(/Shown only once/)).toBeInTheDocument();
    const qr = await screen.findByTestId('register-qr');
    expect(qr).toHaveAttribute('alt', 'QR code of the enrollment string');
    expect(qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml/);

    await user.click(screen.getByTestId('register-copy'));
    expect(writeText).toHaveBeenCalledWith('kendrix1:' + 'x'.repeat(180));
    expect(await screen.findAllByText('Copied')).not.toHaveLength(0);

    await user.click(screen.getByTestId('register-close'));
    expect(screen.queryByTestId('register-enrollment')).not.toBeInTheDocument();
    expect(admin.sites).toHaveBeenCalledTimes(2);
  });

  it('shows the server’s words when a registration is refused', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.registerSite).mockRejectedValue(commandError('invalid', 'name: already taken by another site'));
    render(<Sites />);
    await user.click(await screen.findByTestId('sites-register'));
    await user.type(screen.getByTestId('register-name'), 'Store 12');
    await user.click(screen.getByTestId('register-submit'));
    expect(await screen.findByTestId('error')).toHaveTextContent('name: already taken by another site');
    expect(screen.queryByTestId('register-enrollment')).not.toBeInTheDocument();
  });

  it('shows a failure to load with a retry', async () => {
    vi.mocked(admin.sites).mockRejectedValueOnce(commandError('offline', 'The server cannot be reached.'));
    render(<Sites />);
    expect(await screen.findByTestId('error')).toHaveTextContent('The server cannot be reached.');
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findAllByTestId('sites-row')).toHaveLength(3);
  });
});
