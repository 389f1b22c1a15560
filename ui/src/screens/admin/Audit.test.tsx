import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../../api';
import * as admin from '../../apiAdmin';
import type { ExportProgress } from '../../apiAdmin';
import { deferred, makeAuditEntry, NOW } from '../../test/fixtures';
import { Audit } from './Audit';
import { makeSite } from './fixtures';

vi.mock('../../api');
vi.mock('../../apiAdmin');

beforeEach(() => {
  vi.resetAllMocks();
  vi.spyOn(Date, 'now').mockReturnValue(NOW);
  vi.mocked(admin.siteNames).mockResolvedValue([makeSite(), makeSite({ name: 'Head office', client_id: 'kxc_admin', role: 'admin' })]);
  vi.mocked(api.identities).mockResolvedValue({
    site: null,
    admin: { server: 'https://sync.example.com', client_id: 'kxc_console', name: 'Regional office', tenant: 'Acme' },
  });
  vi.mocked(admin.auditVerify).mockResolvedValue({ ok: true, entries_checked: 1234, last_seq: 1234, last_hash: 'ff', first_broken: null });
  vi.mocked(admin.auditLogs).mockResolvedValue({
    entries: [
      makeAuditEntry({ seq: 9, client_id: 'kxc_store12', details: { records: 10, applied: 10, rejected: 0 } }),
      makeAuditEntry({
        seq: 8,
        client_id: 'kxc_admin',
        event: 'config.changed',
        details: { action: 'set', key: 'sync.batch_size', new_version: 4, comment: 'bigger batches' },
      }),
      makeAuditEntry({ seq: 7, client_id: 'kxc_store12', event: 'auth.client.failure', outcome: 'failure', details: { reason: 'wrong secret' } }),
      makeAuditEntry({ seq: 6, client_id: null, event: 'backup.made', details: {} }),
    ],
    next: 'c2VxOjY',
  });
});

describe('Audit log', () => {
  it('shows one readable line per entry: local time, event name, site name, outcome and a summary', async () => {
    render(<Audit />);
    const rows = await screen.findAllByTestId('audit-row');
    expect(rows).toHaveLength(4);
    expect(rows[0]).toHaveTextContent('12 Mar 2025, 13:59:59');
    expect(rows[0]).toHaveTextContent('Batch applied');
    expect(await within(rows[0]).findByText('Store 12')).toBeInTheDocument();
    expect(rows[0]).not.toHaveTextContent('kxc_store12');
    expect(rows[1]).toHaveTextContent('Configuration changed');
    expect(rows[1]).toHaveTextContent('Head office');
    expect(rows[1]).toHaveTextContent('set sync.batch_size · version 4 · bigger batches');
    expect(rows[2]).toHaveTextContent('Sign-in failed');
    expect(rows[2]).toHaveTextContent('Failure');
    expect(rows[2]).toHaveTextContent('wrong secret');
    expect(rows[3]).toHaveTextContent('Backup made');
    expect(await screen.findByTestId('audit-chain')).toHaveTextContent('Chain verified ✓ · 1,234 entries');
  });

  it('opens an entry in a drawer with its ids, chain place and pretty details', async () => {
    const user = userEvent.setup();
    render(<Audit />);
    const rows = await screen.findAllByTestId('audit-row');
    await user.click(rows[0]);
    const drawer = screen.getByTestId('audit-drawer');
    expect(drawer).toHaveTextContent('kxc_store12');
    expect(drawer).toHaveTextContent('req-1');
    expect(drawer).toHaveTextContent('10.0.0.12');
    expect(within(drawer).getByTestId('audit-hash')).toHaveTextContent('ab'.repeat(32));
    expect(within(drawer).getByTestId('audit-details').textContent).toContain('"applied": 10');
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('audit-drawer')).not.toBeInTheDocument();
  });

  it('turns chips, the site, words and presets into the server query, starting again from the newest page', async () => {
    const user = userEvent.setup();
    render(<Audit />);
    await screen.findAllByTestId('audit-row');
    expect(admin.auditLogs).toHaveBeenLastCalledWith({ cursor: null, limit: 50 });

    await user.click(screen.getByTestId('audit-next'));
    expect(admin.auditLogs).toHaveBeenLastCalledWith({ cursor: 'c2VxOjY', limit: 50 });

    await user.click(screen.getByTestId('audit-group-config'));
    expect(admin.auditLogs).toHaveBeenLastCalledWith({
      event: 'config.changed,config.secret_read,config.key_rotated',
      cursor: null,
      limit: 50,
    });
    await user.click(screen.getByTestId('audit-outcome-failure'));
    await user.selectOptions(screen.getByTestId('audit-site'), 'Store 12');
    await user.type(screen.getByTestId('audit-search'), 'wrong secret{Enter}');
    expect(admin.auditLogs).toHaveBeenLastCalledWith({
      event: 'config.changed,config.secret_read,config.key_rotated',
      outcome: 'failure',
      client_id: 'kxc_store12',
      q: 'wrong secret',
      cursor: null,
      limit: 50,
    });

    await user.click(screen.getByTestId('audit-preset-failures-24h'));
    expect(admin.auditLogs).toHaveBeenLastCalledWith({ outcome: 'failure', since: NOW - 24 * 3_600_000, cursor: null, limit: 50 });
    expect(screen.getByTestId('audit-since')).toHaveTextContent('Since 11 Mar 2025, 14:00');
    await user.click(screen.getByRole('button', { name: 'Sign-ins · 24 h' }));
    expect(vi.mocked(admin.auditLogs).mock.lastCall?.[0].event).toContain('token.issued');
    await user.click(screen.getByTestId('audit-clear'));
    expect(admin.auditLogs).toHaveBeenLastCalledWith({ cursor: null, limit: 50 });
  });

  it('pages back to newer entries', async () => {
    const user = userEvent.setup();
    render(<Audit />);
    await screen.findAllByTestId('audit-row');
    expect(screen.getByTestId('audit-back')).toBeDisabled();
    await user.click(screen.getByTestId('audit-next'));
    await user.click(await screen.findByTestId('audit-back'));
    expect(admin.auditLogs).toHaveBeenLastCalledWith({ cursor: null, limit: 50 });
  });

  it('says where the chain breaks', async () => {
    vi.mocked(admin.auditVerify).mockResolvedValue({
      ok: false,
      entries_checked: 40,
      last_seq: 90,
      last_hash: 'ff',
      first_broken: { seq: 41, reason: 'content does not match its hash' },
    });
    render(<Audit />);
    expect(await screen.findByText('Chain broken at entry 41')).toBeInTheDocument();
  });

  it('exports the filtered log with progress, then says where it was saved and opens the folder', async () => {
    const user = userEvent.setup();
    let progress: ((p: ExportProgress) => void) | undefined;
    const stop = vi.fn();
    vi.mocked(api.onEvent).mockImplementation(async (_name, cb) => {
      progress = cb as (p: ExportProgress) => void;
      return stop;
    });
    const saved = deferred<api.SavedFile | null>();
    vi.mocked(admin.exportAudit).mockReturnValue(saved.promise);
    vi.mocked(api.revealFile).mockResolvedValue(undefined);
    render(<Audit />);
    await screen.findAllByTestId('audit-row');

    await user.click(screen.getByTestId('audit-outcome-failure'));
    await user.selectOptions(screen.getByTestId('audit-export-format'), 'NDJSON');
    await user.click(screen.getByTestId('audit-export'));
    expect(api.onEvent).toHaveBeenCalledWith('export-progress', expect.any(Function));
    expect(admin.exportAudit).toHaveBeenCalledWith({ outcome: 'failure' }, 'ndjson');
    act(() => progress?.({ bytes: 1_258_291 }));
    expect(screen.getByTestId('audit-export-progress')).toHaveTextContent('Exporting… 1.2 MB');

    await act(async () => saved.resolve({ path: '/home/anna/audit.ndjson', bytes: 1_300_000 }));
    const result = await screen.findByTestId('audit-export-result');
    expect(result).toHaveTextContent('Saved to /home/anna/audit.ndjson · Open folder');
    expect(stop).toHaveBeenCalled();
    await user.click(within(result).getByRole('button', { name: 'Open folder' }));
    expect(api.revealFile).toHaveBeenCalledWith('/home/anna/audit.ndjson');
  });

  it('says nothing was saved when the save dialog is cancelled', async () => {
    const user = userEvent.setup();
    vi.mocked(api.onEvent).mockResolvedValue(() => {});
    vi.mocked(admin.exportAudit).mockResolvedValue(null);
    render(<Audit />);
    await screen.findAllByTestId('audit-row');
    await user.click(screen.getByTestId('audit-export'));
    expect(await screen.findByText('Export cancelled.')).toBeInTheDocument();
    expect(screen.queryByTestId('audit-export-result')).not.toBeInTheDocument();
  });

  it('saves the compliance report of the chosen period, its evidence beside it', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.saveReport).mockResolvedValue({
      report: { path: '/home/anna/report-2025-02-10_2025-03-12.html', bytes: 20_000 },
      evidence: { path: '/home/anna/evidence-2025-02-10_2025-03-12.json', bytes: 9_000 },
    });
    vi.mocked(api.revealFile).mockResolvedValue(undefined);
    render(<Audit />);
    await screen.findAllByTestId('audit-row');

    await user.selectOptions(screen.getByTestId('audit-report-period'), 'Last 90 days');
    await user.click(screen.getByTestId('audit-report'));
    expect(admin.saveReport).toHaveBeenCalledWith(NOW - 90 * 86_400_000, NOW);
    const result = await screen.findByTestId('audit-report-result');
    expect(result).toHaveTextContent('Saved to /home/anna/report-2025-02-10_2025-03-12.html, with its signed evidence beside it');
    await user.click(within(result).getByRole('button', { name: 'Open folder' }));
    expect(api.revealFile).toHaveBeenCalledWith('/home/anna/report-2025-02-10_2025-03-12.html');
  });

  it("shows the server's reason when it cannot sign a report", async () => {
    const user = userEvent.setup();
    vi.mocked(admin.saveReport).mockRejectedValue({
      code: 'conflict',
      message: 'this server has no audit signing key, so it cannot sign a report',
    });
    render(<Audit />);
    await screen.findAllByTestId('audit-row');
    await user.click(screen.getByTestId('audit-report'));
    expect(await screen.findByText(/no audit signing key/)).toBeInTheDocument();
    expect(screen.queryByTestId('audit-report-result')).not.toBeInTheDocument();
  });
});
