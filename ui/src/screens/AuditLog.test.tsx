import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../api';
import { commandError, makeAuditEntry, makeRun } from '../test/fixtures';
import { AuditLog, queryFromForm } from './AuditLog';

vi.mock('../api');

beforeEach(() => {
  vi.resetAllMocks();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Server audit', () => {
  it('lists one row per entry and pages through older entries with the next cursor', async () => {
    const user = userEvent.setup();
    vi.mocked(api.auditLogs)
      .mockResolvedValueOnce({
        entries: [makeAuditEntry({ seq: 9 }), makeAuditEntry({ seq: 8, event: 'token.issued' })],
        next: 'c2VxOjg',
      })
      .mockResolvedValueOnce({ entries: [makeAuditEntry({ seq: 7, event: 'audit.read' })], next: null })
      .mockResolvedValueOnce({ entries: [makeAuditEntry({ seq: 9 }), makeAuditEntry({ seq: 8 })], next: 'c2VxOjg' });
    render(<AuditLog />);

    expect(await screen.findAllByTestId('audit-row')).toHaveLength(2);
    expect(api.auditLogs).toHaveBeenLastCalledWith({ cursor: null, limit: 50 });
    expect(screen.getByTestId('audit-newer')).toBeDisabled();

    await user.click(screen.getByTestId('audit-next'));
    expect(api.auditLogs).toHaveBeenLastCalledWith({ cursor: 'c2VxOjg', limit: 50 });
    expect(await screen.findByText('audit.read')).toBeInTheDocument();
    expect(screen.getAllByTestId('audit-row')).toHaveLength(1);
    // The last page has no next cursor.
    expect(screen.getByTestId('audit-next')).toBeDisabled();

    await user.click(screen.getByTestId('audit-newer'));
    expect(api.auditLogs).toHaveBeenLastCalledWith({ cursor: null, limit: 50 });
    expect(await screen.findAllByTestId('audit-row')).toHaveLength(2);
  });

  it('sends the filters and text search to the server, starting again from the newest page', async () => {
    const user = userEvent.setup();
    vi.mocked(api.auditLogs).mockResolvedValue({ entries: [makeAuditEntry()], next: null });
    render(<AuditLog />);
    await screen.findByTestId('audit-row');

    await user.selectOptions(screen.getByLabelText('Outcome'), 'failure');
    await user.type(screen.getByLabelText('Client'), 'site-12');
    await user.type(screen.getByTestId('audit-search'), 'wrong secret{Enter}');

    expect(api.auditLogs).toHaveBeenLastCalledWith({
      outcome: 'failure',
      client_id: 'site-12',
      q: 'wrong secret',
      cursor: null,
      limit: 50,
    });
  });

  it('explains the missing audit:read permission instead of showing an error', async () => {
    vi.mocked(api.auditLogs).mockRejectedValue(commandError('permission', '403 Forbidden: insufficient scope (audit:read)'));
    render(<AuditLog />);
    expect(await screen.findByText("This site may not read the server's audit log.")).toBeInTheDocument();
    expect(screen.queryByTestId('error')).not.toBeInTheDocument();
  });

  it('decides on the code, not the words: a refusal that mentions 403 is still an error', async () => {
    vi.mocked(api.auditLogs).mockRejectedValue(commandError('refused', 'the server refused the request (400): cursor 403 is unknown'));
    render(<AuditLog />);
    expect(await screen.findByTestId('error')).toHaveTextContent('cursor 403 is unknown');
    expect(screen.queryByText("This site may not read the server's audit log.")).not.toBeInTheDocument();
  });

  it('shows other failures as errors and an empty result as such', async () => {
    vi.mocked(api.auditLogs).mockRejectedValueOnce(commandError('offline', 'The server cannot be reached.'));
    vi.mocked(api.auditLogs).mockResolvedValueOnce({ entries: [], next: null });
    render(<AuditLog />);
    expect(await screen.findByTestId('error')).toHaveTextContent('The server cannot be reached.');
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('No audit entries match.')).toBeInTheDocument();
  });

  it('exports the filtered log as a file to save', async () => {
    const user = userEvent.setup();
    const createObjectURL = vi.fn(() => 'blob:audit');
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
    vi.mocked(api.auditLogs).mockResolvedValue({ entries: [makeAuditEntry()], next: null });
    vi.mocked(api.auditExport).mockResolvedValue('seq,at\n1,2\n');
    render(<AuditLog />);
    await screen.findByTestId('audit-row');

    await user.type(screen.getByTestId('audit-search'), 'orders{Enter}');
    await user.click(screen.getByRole('button', { name: 'Export CSV' }));

    expect(api.auditExport).toHaveBeenCalledWith({ q: 'orders' }, 'csv');
    const link = await screen.findByTestId('audit-export-link');
    expect(link).toHaveAttribute('href', 'blob:audit');
    expect(link.getAttribute('download')).toMatch(/^kendrix-audit-.*\.csv$/);
    expect(click).toHaveBeenCalled();
    click.mockRestore();
  });
});

describe('Local history', () => {
  it('lists the sync runs of this computer', async () => {
    const user = userEvent.setup();
    vi.mocked(api.auditLogs).mockResolvedValue({ entries: [], next: null });
    vi.mocked(api.history).mockResolvedValue([
      makeRun({ id: 2, trigger: 'manual', outcome: 'partial', rejected: 2 }),
      makeRun({ id: 1, outcome: 'offline', error: 'connection refused' }),
    ]);
    render(<AuditLog />);
    await user.click(screen.getByTestId('audit-tab-local'));

    const rows = await screen.findAllByTestId('history-row');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByText('Sync Now')).toBeInTheDocument();
    expect(within(rows[0]).getByText(/Partly synced/)).toBeInTheDocument();
    expect(within(rows[1]).getByText('connection refused')).toBeInTheDocument();
  });
});

describe('queryFromForm', () => {
  it('leaves out empty fields and turns local times into Unix ms', () => {
    expect(
      queryFromForm({ since: '2025-03-12T14:00', until: '', event: ' token.issued ', client_id: '', outcome: '', q: '' }),
    ).toEqual({ since: Date.UTC(2025, 2, 12, 14, 0), event: 'token.issued' });
  });
});
