import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from './api';
import { App } from './App';
import { makeStatus } from './test/fixtures';

vi.mock('./api');

const SITE = { server: 'https://sync.example.com', client_id: 'kxc_site', name: 'Store 12', tenant: 'Acme Stores' };
const ADMIN = { server: 'https://sync.example.com', client_id: 'kxc_admin', name: 'Head office', tenant: 'Acme Stores' };

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ all_synced: true, dead_letters: 3 }));
  vi.mocked(api.onStatus).mockResolvedValue(() => {});
  vi.mocked(api.onNavigate).mockResolvedValue(() => {});
  vi.mocked(api.history).mockResolvedValue([]);
  vi.mocked(api.deadLetters).mockResolvedValue([]);
  vi.mocked(api.getSettings).mockResolvedValue({ autostart: false, notifications: true, interval_seconds: null });
  window.location.hash = '';
});

afterEach(() => {
  window.location.hash = '';
});

async function go(hash: string) {
  await act(async () => {
    window.location.hash = hash;
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  });
}

describe('App: two modes, two identities', () => {
  it('a site PC shows staff mode only, with the count of records needing attention', async () => {
    vi.mocked(api.identities).mockResolvedValue({ site: SITE, admin: null });
    render(<App />);
    expect(await screen.findByTestId('screen-status')).toBeInTheDocument();
    for (const name of ['status', 'attention', 'history', 'settings']) {
      expect(screen.getByTestId(`nav-${name}`)).toHaveAttribute('href', `#/${name}`);
    }
    expect(await screen.findByTestId('nav-attention-badge')).toHaveTextContent('3');
    expect(screen.queryByTestId('nav-sites')).toBeNull();

    // An admin screen's address, without an admin signed in, is not shown as a refusal.
    await go('#/audit');
    expect(screen.getByTestId('screen-status')).toBeInTheDocument();
  });

  it('an admin signed in adds admin mode; a PC that is only an admin console has no staff screens but Settings', async () => {
    vi.mocked(api.identities).mockResolvedValue({ site: SITE, admin: ADMIN });
    const { unmount } = render(<App />);
    expect(await screen.findByTestId('nav-sites')).toBeInTheDocument();
    await go('#/site/kxc_7');
    expect(screen.getByTestId('screen-site')).toBeInTheDocument();
    expect(screen.getByTestId('nav-sites')).toHaveAttribute('aria-current', 'page');
    unmount();

    vi.mocked(api.identities).mockResolvedValue({ site: null, admin: ADMIN });
    await go('');
    render(<App />);
    expect(await screen.findByTestId('nav-sites')).toBeInTheDocument();
    expect(screen.queryByTestId('nav-status')).toBeNull();
    expect(screen.getByTestId('nav-settings')).toBeInTheDocument();
  });

  it('names the site at the top of the nav, and a tray click opens the screen it is about', async () => {
    let navigateTo: (route: string) => void = () => {};
    vi.mocked(api.onNavigate).mockImplementation(async (cb) => {
      navigateTo = (route) => act(() => cb(route));
      return () => {};
    });
    vi.mocked(api.identities).mockResolvedValue({ site: SITE, admin: null });
    render(<App />);
    expect(await screen.findByTestId('nav-site-name')).toHaveTextContent('Store 12');
    expect(await screen.findByTestId('nav-attention-badge')).toHaveAttribute('aria-label', '3 records need attention');

    await act(async () => {
      navigateTo('attention');
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    expect(await screen.findByTestId('screen-attention')).toBeInTheDocument();
    expect(screen.getByTestId('nav-attention')).toHaveAttribute('aria-current', 'page');
  });

  it('a PC with no identity yet opens on Status, which leads to Settings', async () => {
    vi.mocked(api.identities).mockResolvedValue({ site: null, admin: null });
    render(<App />);
    expect(await screen.findByTestId('screen-status')).toBeInTheDocument();
    expect(screen.getByTestId('nav-settings')).toBeInTheDocument();
    expect(screen.queryByTestId('nav-attention')).toBeNull();
    expect(screen.queryByTestId('nav-sites')).toBeNull();
  });

  it('moves between nav links with the arrow keys', async () => {
    vi.mocked(api.identities).mockResolvedValue({ site: SITE, admin: null });
    render(<App />);
    await screen.findByTestId('screen-status');
    screen.getByTestId('nav-status').focus();
    await userEvent.keyboard('{ArrowDown}');
    expect(screen.getByTestId('nav-attention')).toHaveFocus();
    await userEvent.keyboard('{ArrowUp}{ArrowUp}');
    expect(screen.getByTestId('nav-settings')).toHaveFocus();
  });
});
