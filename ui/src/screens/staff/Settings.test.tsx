import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../../api';
import type { Identities } from '../../api';
import { commandError, makeStatus } from '../../test/fixtures';
import { Settings } from './Settings';

vi.mock('../../api');

const SECRET = 'kendrix1:eyJzZXJ2ZXIiOiJodHRwczovL3N5bmMuZXhhbXBsZS5jb20iLCJjbGllbnRfc2VjcmV0IjoiczNjcjN0In0';
const SITE = { server: 'https://sync.example.com', client_id: 'kxc_site', name: 'Store 12', tenant: 'Acme Stores' };
const ADMIN = { server: 'https://sync.example.com', client_id: 'kxc_admin', name: 'Head office', tenant: 'Acme Stores' };
const onIdentityChange = vi.fn();

function show(who: Identities) {
  return render(<Settings identities={who} onIdentityChange={onIdentityChange} />);
}

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.getSettings).mockResolvedValue({ autostart: true, notifications: false, interval_seconds: null });
  vi.mocked(api.saveSettings).mockResolvedValue();
  vi.mocked(api.enroll).mockResolvedValue(makeStatus());
});

afterEach(() => {
  localStorage.clear();
  delete document.documentElement.dataset.theme;
});

describe('Settings: the site', () => {
  it('a PC not connected yet shows the paste field at once, and never shows the secret again', async () => {
    const user = userEvent.setup();
    show({ site: null, admin: null });
    expect(screen.getByText('This PC is not connected to a server yet.')).toBeInTheDocument();
    const input = screen.getByTestId('enroll-input');
    expect(input).toHaveAttribute('type', 'password');
    expect(screen.getByTestId('enroll-submit')).toBeDisabled();

    await user.click(input);
    await user.paste(SECRET);
    await user.click(screen.getByTestId('enroll-submit'));
    expect(api.enroll).toHaveBeenCalledWith(SECRET);
    expect(await screen.findByTestId('enroll-done')).toHaveTextContent('Connected.');
    expect(onIdentityChange).toHaveBeenCalled();
    expect(input).toHaveValue('');
    expect(document.body.innerHTML).not.toContain(SECRET.slice(9));
  });

  it('a refused string shows the agent’s words; one for another site asks before replacing', async () => {
    const user = userEvent.setup();
    vi.mocked(api.enroll).mockRejectedValueOnce(commandError('invalid', 'the enrollment string is damaged; copy it again in one piece'));
    show({ site: null, admin: null });
    await user.type(screen.getByTestId('enroll-input'), 'kendrix1:broken');
    await user.click(screen.getByTestId('enroll-submit'));
    expect(await screen.findByTestId('error')).toHaveTextContent('copy it again in one piece');
    expect(screen.getByTestId('error')).not.toHaveTextContent('kendrix1:broken');

    vi.mocked(api.enroll).mockRejectedValueOnce(commandError('other_site', 'this string is for kxc_other'));
    await user.click(screen.getByTestId('enroll-submit'));
    expect(await screen.findByRole('alertdialog')).toHaveTextContent('for another site');
    await user.click(screen.getByTestId('confirm-yes'));
    expect(api.enroll).toHaveBeenLastCalledWith('kendrix1:broken', true);
  });

  it('a connected PC shows its site and checks the connection', async () => {
    const user = userEvent.setup();
    vi.mocked(api.checkConnection).mockResolvedValueOnce({ ok: true, name: 'Store 12', tenant: 'Acme Stores', latency_ms: 120.4, message: null, problem: null });
    show({ site: SITE, admin: null });
    expect(screen.getByTestId('site-card')).toHaveTextContent('Connected to Acme Stores · Store 12');
    expect(screen.queryByTestId('enroll-input')).toBeNull();

    await user.click(screen.getByTestId('check-connection'));
    expect(await screen.findByTestId('connection-result')).toHaveTextContent('Connected · the server answered in 120 ms');
    expect(onIdentityChange).toHaveBeenCalled();

    vi.mocked(api.checkConnection).mockResolvedValueOnce({ ok: false, name: null, tenant: null, latency_ms: 80, message: 'This site’s access was revoked.', problem: 'auth' });
    await user.click(screen.getByTestId('check-connection'));
    expect(await screen.findByTestId('connection-result')).toHaveTextContent('This site’s access was revoked.');
  });

  it('before the first check it names the server and client id', () => {
    show({ site: { ...SITE, name: null, tenant: null }, admin: null });
    expect(screen.getByTestId('site-card')).toHaveTextContent('Connected to sync.example.com as kxc_site');
  });

  it('Change site… asks before this PC stops syncing as its site', async () => {
    const user = userEvent.setup();
    show({ site: SITE, admin: null });
    await user.click(screen.getByTestId('change-site'));
    await user.type(screen.getByTestId('enroll-input'), 'kendrix1:new');
    await user.click(screen.getByTestId('enroll-submit'));
    expect(screen.getByRole('alertdialog')).toHaveTextContent(
      'This PC will stop syncing as Store 12 and start syncing as the new site. Waiting changes stay queued.',
    );
    expect(api.enroll).not.toHaveBeenCalled();
    await user.click(screen.getByTestId('confirm-yes'));
    expect(api.enroll).toHaveBeenCalledWith('kendrix1:new', true);
    expect(onIdentityChange).toHaveBeenCalled();
    expect(await screen.findByTestId('enroll-done')).toBeInTheDocument();
  });
});

describe('Settings: syncing, admin, support', () => {
  it('saves the interval, start with the PC and notifications as soon as they change, and the theme', async () => {
    const user = userEvent.setup();
    show({ site: SITE, admin: null });
    const interval = await screen.findByTestId('sync-interval');
    expect(interval).toHaveValue('');
    await user.selectOptions(interval, '15 minutes');
    expect(api.saveSettings).toHaveBeenLastCalledWith({ autostart: true, notifications: false, interval_seconds: 900 });
    await user.click(screen.getByTestId('notifications'));
    expect(api.saveSettings).toHaveBeenLastCalledWith({ autostart: true, notifications: true, interval_seconds: 900 });
    expect(await screen.findByTestId('settings-saved')).toHaveTextContent('Saved');

    await user.selectOptions(screen.getByTestId('theme'), 'dark');
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(localStorage.getItem('kendrix.theme')).toBe('dark');
  });

  it('an interval set elsewhere stays as it is', async () => {
    vi.mocked(api.getSettings).mockResolvedValue({ autostart: false, notifications: true, interval_seconds: 120 });
    show({ site: SITE, admin: null });
    const interval = await screen.findByTestId('sync-interval');
    expect(interval).toHaveValue('120');
    expect(interval).toHaveDisplayValue('2 minutes');
  });

  it('signs in as admin with a pasted string, and out after confirming', async () => {
    const user = userEvent.setup();
    vi.mocked(api.adminEnroll).mockResolvedValue(ADMIN);
    vi.mocked(api.adminSignOut).mockResolvedValue();
    const { rerender } = show({ site: SITE, admin: null });
    await user.click(screen.getByTestId('admin-signin'));
    expect(screen.getByTestId('admin-enroll-input')).toHaveAttribute('type', 'password');
    await user.type(screen.getByTestId('admin-enroll-input'), 'kendrix1:admin');
    await user.click(screen.getByTestId('admin-enroll-submit'));
    expect(api.adminEnroll).toHaveBeenCalledWith('kendrix1:admin');
    expect(onIdentityChange).toHaveBeenCalledTimes(1);

    rerender(<Settings identities={{ site: SITE, admin: ADMIN }} onIdentityChange={onIdentityChange} />);
    expect(screen.getByTestId('admin-identity')).toHaveTextContent('Signed in as admin: Head office (Acme Stores)');
    await user.click(screen.getByTestId('admin-signout'));
    expect(api.adminSignOut).not.toHaveBeenCalled();
    await user.click(screen.getByTestId('confirm-yes'));
    expect(api.adminSignOut).toHaveBeenCalledTimes(1);
    expect(onIdentityChange).toHaveBeenCalledTimes(2);
  });

  it('copies diagnostics to a file staff choose, and opens its folder; a cancelled dialog says nothing', async () => {
    const user = userEvent.setup();
    vi.mocked(api.saveDiagnostics).mockResolvedValueOnce(null);
    vi.mocked(api.revealFile).mockResolvedValue();
    show({ site: SITE, admin: null });
    await user.click(screen.getByTestId('save-diagnostics'));
    expect(api.saveDiagnostics).toHaveBeenCalledTimes(1);
    expect(screen.queryByTestId('diagnostics-saved')).toBeNull();
    expect(screen.queryByTestId('error')).toBeNull();

    vi.mocked(api.saveDiagnostics).mockResolvedValueOnce({ path: '/home/staff/kendrix-diagnostics.zip', bytes: 2048 });
    await user.click(screen.getByTestId('save-diagnostics'));
    expect(await screen.findByTestId('diagnostics-saved')).toHaveTextContent('Saved to /home/staff/kendrix-diagnostics.zip');
    await user.click(screen.getByTestId('reveal-diagnostics'));
    expect(api.revealFile).toHaveBeenCalledWith('/home/staff/kendrix-diagnostics.zip');
  });
});
