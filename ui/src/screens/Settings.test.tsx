import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../api';
import { commandError, makeStatus } from '../test/fixtures';
import { parseInterval, Settings } from './Settings';

vi.mock('../api');

const SECRET_STRING = 'kendrix1:eyJzZXJ2ZXIiOiJodHRwczovL3N5bmMuZXhhbXBsZS5jb20iLCJjbGllbnRfc2VjcmV0IjoiczNjcjN0In0';

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.getSettings).mockResolvedValue({ autostart: true, notifications: false, interval_seconds: null });
  vi.mocked(api.saveSettings).mockResolvedValue();
});

afterEach(() => {
  localStorage.clear();
  delete document.documentElement.dataset.theme;
});

describe('Settings', () => {
  it('enrolls with the pasted string, shows server and client id, and never shows the secret again', async () => {
    const user = userEvent.setup();
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ enrolled: null }));
    vi.mocked(api.enroll).mockResolvedValue(
      makeStatus({ enrolled: { server: 'https://sync.example.com', client_id: 'site-12' } }),
    );
    render(<Settings />);

    expect(await screen.findByText('This computer is not enrolled yet.')).toBeInTheDocument();
    const input = screen.getByTestId('enroll-input');
    expect(input).toHaveAttribute('type', 'password');
    expect(screen.getByTestId('enroll-submit')).toBeDisabled();

    await user.click(input);
    await user.paste(SECRET_STRING);
    await user.click(screen.getByTestId('enroll-submit'));

    expect(api.enroll).toHaveBeenCalledWith(SECRET_STRING);
    expect(await screen.findByTestId('enrolled-client')).toHaveTextContent('site-12');
    expect(screen.getByTestId('enrolled-server')).toHaveTextContent('https://sync.example.com');
    expect(input).toHaveValue('');
    expect(document.body.innerHTML).not.toContain(SECRET_STRING);
    expect(document.body.innerHTML).not.toContain(SECRET_STRING.slice(9));
  });

  it('shows why an enrollment string was refused, without echoing it', async () => {
    const user = userEvent.setup();
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ enrolled: null }));
    vi.mocked(api.enroll).mockRejectedValue(
      commandError('invalid', 'the enrollment string is damaged (not valid base64url); copy it again in one piece'),
    );
    render(<Settings />);
    await user.type(await screen.findByTestId('enroll-input'), 'kendrix1:broken');
    await user.click(screen.getByTestId('enroll-submit'));
    expect(await screen.findByTestId('error')).toHaveTextContent('copy it again in one piece');
    expect(screen.getByTestId('error')).not.toHaveTextContent('kendrix1:broken');
  });

  it('saves a custom interval, autostart and notifications', async () => {
    const user = userEvent.setup();
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    render(<Settings />);
    expect(await screen.findByTestId('enrolled-client')).toHaveTextContent('site-12');

    const interval = await screen.findByTestId('interval-seconds');
    expect(interval).toBeDisabled();
    await user.click(screen.getByRole('radio', { name: /Sync every/ }));
    await user.clear(interval);
    await user.type(interval, '0');
    expect(screen.getByTestId('settings-save')).toBeDisabled();
    await user.clear(interval);
    await user.type(interval, '120');
    await user.click(screen.getByTestId('notifications'));
    await user.click(screen.getByTestId('settings-save'));

    expect(api.saveSettings).toHaveBeenCalledWith({ autostart: true, notifications: true, interval_seconds: 120 });
    expect(await screen.findByText('Saved.')).toBeInTheDocument();
  });

  it('switches the theme and remembers it', async () => {
    const user = userEvent.setup();
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    render(<Settings />);
    await user.click(screen.getByTestId('theme-dark'));
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(localStorage.getItem('kendrix.theme')).toBe('dark');
    await user.click(screen.getByTestId('theme-system'));
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });

  it('shows an error when the settings cannot be read', async () => {
    vi.mocked(api.getStatus).mockResolvedValue(makeStatus());
    vi.mocked(api.getSettings).mockRejectedValue(commandError('local', 'The settings file is unreadable.'));
    render(<Settings />);
    expect(await screen.findByTestId('error')).toHaveTextContent('The settings file is unreadable.');
  });
});

describe('parseInterval', () => {
  it('accepts whole positive seconds only', () => {
    expect(parseInterval('300')).toBe(300);
    expect(parseInterval(' 60 ')).toBe(60);
    expect(parseInterval('0')).toBeNull();
    expect(parseInterval('1.5')).toBeNull();
    expect(parseInterval('')).toBeNull();
    expect(parseInterval('ten')).toBeNull();
  });
});
