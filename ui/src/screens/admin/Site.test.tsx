import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as admin from '../../apiAdmin';
import { commandError, makeAuditEntry, NOW } from '../../test/fixtures';
import { makeDetail } from './fixtures';
import { Site } from './Site';

vi.mock('../../apiAdmin');

beforeEach(() => {
  vi.resetAllMocks();
  vi.spyOn(Date, 'now').mockReturnValue(NOW);
  vi.mocked(admin.site).mockResolvedValue(makeDetail({}, { queue_depth: 12, oldest_pending_ms: NOW - 3 * 3_600_000, dead_letters: 2 }));
  vi.mocked(admin.auditLogs).mockResolvedValue({
    entries: [makeAuditEntry({ client_id: 'kxc_store12', details: { records: 500, applied: 499, rejected: 1 } })],
    next: null,
  });
});

describe('Site page', () => {
  it('shows the site by name with its queue, config, runs, batches and audit', async () => {
    render(<Site clientId="kxc_store12" />);
    expect(await screen.findByRole('heading', { level: 1 })).toHaveTextContent('Store 12');
    expect(screen.getByTestId('site-status')).toHaveTextContent('Active');
    expect(screen.getByText('kxc_store12')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: '← Sites' })).toHaveAttribute('href', '#/sites');
    expect(screen.getByRole('region', { name: 'Queue' })).toHaveTextContent('12');
    expect(screen.getByRole('region', { name: 'Queue' })).toHaveTextContent('3 h ago');
    expect(screen.getByRole('region', { name: 'Configuration' })).toHaveTextContent('Version 3');

    const run = screen.getByTestId('site-run-row');
    expect(run).toHaveTextContent('Partly synced');
    expect(run).toHaveTextContent('Sent 500 · 1 refused');
    expect(run).toHaveTextContent('order A-1 refused');
    expect(screen.getByTestId('site-batch-row')).toHaveTextContent('499');
    const audit = await screen.findByTestId('site-audit-row');
    expect(audit).toHaveTextContent('Batch applied');
    expect(audit).toHaveTextContent('500 records · 499 applied · 1 rejected');
    expect(admin.auditLogs).toHaveBeenCalledWith({ client_id: 'kxc_store12', limit: 20 });
  });

  it('revokes the site only after a confirmation that names it', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.revokeSite).mockResolvedValue({});
    render(<Site clientId="kxc_store12" />);
    await user.click(await screen.findByTestId('site-revoke'));

    const dialog = screen.getByRole('dialog');
    expect(dialog).toHaveTextContent('Revoke Store 12?');
    expect(admin.revokeSite).not.toHaveBeenCalled();
    vi.mocked(admin.site).mockResolvedValue(makeDetail({}, { status: 'revoked', revoked_ms: NOW }));
    await user.click(within(dialog).getByTestId('confirm-yes'));

    expect(admin.revokeSite).toHaveBeenCalledWith('kxc_store12');
    expect(await screen.findByText('Store 12 is revoked.')).toBeInTheDocument();
    expect(await screen.findByText('Revoked')).toBeInTheDocument();
    expect(screen.getByTestId('site-revoke')).toBeDisabled();
  });

  it('keeps the site when the admin cancels, and shows a refused revoke in the dialog', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.revokeSite).mockRejectedValue(commandError('permission', 'this credential lacks clients:admin'));
    render(<Site clientId="kxc_store12" />);
    await user.click(await screen.findByTestId('site-revoke'));
    await user.click(screen.getByTestId('confirm-yes'));
    expect(await screen.findByTestId('error')).toHaveTextContent('this credential lacks clients:admin');
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('rotates the secret with a grace and shows the new string and until when the old one works', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.rotateSecret).mockResolvedValue({
      client_id: 'kxc_store12',
      enrollment: 'kendrix1:rotated',
      previous_secret_until_ms: Date.UTC(2025, 2, 13, 14, 0),
    });
    render(<Site clientId="kxc_store12" />);
    await user.click(await screen.findByTestId('site-rotate'));
    await user.selectOptions(screen.getByTestId('rotate-grace'), 'For 24 hours');
    await user.click(screen.getByTestId('rotate-submit'));

    expect(admin.rotateSecret).toHaveBeenCalledWith('kxc_store12', 86400);
    expect(await screen.findByTestId('rotate-enrollment')).toHaveValue('kendrix1:rotated');
    expect(screen.getByText('The old secret works until 13 Mar 2025, 14:00.')).toBeInTheDocument();
    expect(await screen.findByTestId('rotate-qr')).toBeInTheDocument();
  });

  it('says so when the old secret stops at once', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.rotateSecret).mockResolvedValue({ client_id: 'kxc_store12', enrollment: 'kendrix1:r', previous_secret_until_ms: null });
    render(<Site clientId="kxc_store12" />);
    await user.click(await screen.findByTestId('site-rotate'));
    await user.selectOptions(screen.getByTestId('rotate-grace'), 'Stop old secret now');
    await user.click(screen.getByTestId('rotate-submit'));
    expect(admin.rotateSecret).toHaveBeenCalledWith('kxc_store12', 0);
    expect(await screen.findByText(/The old secret has stopped working/)).toBeInTheDocument();
  });

  it('names an unknown client id instead of failing', async () => {
    vi.mocked(admin.site).mockRejectedValue(commandError('not_found', 'no such client'));
    render(<Site clientId="kxc_gone" />);
    expect(await screen.findByText('No site has the client id kxc_gone.')).toBeInTheDocument();
  });
});
