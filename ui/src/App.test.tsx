import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from './api';
import { App } from './App';
import { makeStatus } from './test/fixtures';

vi.mock('./api');

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.getStatus).mockResolvedValue(makeStatus({ all_synced: true }));
  vi.mocked(api.onStatus).mockResolvedValue(() => {});
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

describe('App navigation', () => {
  it('opens on the dashboard and follows the nav links', async () => {
    render(<App />);
    expect(await screen.findByTestId('screen-dashboard')).toBeInTheDocument();
    expect(screen.getByTestId('nav-dashboard')).toHaveAttribute('aria-current', 'page');
    for (const name of ['audit', 'config', 'stats', 'dead-letters', 'settings']) {
      expect(screen.getByTestId(`nav-${name}`)).toHaveAttribute('href', `#/${name}`);
    }

    await go('#/dead-letters');
    expect(await screen.findByTestId('screen-dead-letters')).toBeInTheDocument();
    expect(screen.getByTestId('nav-dead-letters')).toHaveAttribute('aria-current', 'page');
    expect(screen.queryByTestId('screen-dashboard')).not.toBeInTheDocument();

    await go('#/settings');
    expect(await screen.findByTestId('screen-settings')).toBeInTheDocument();
  });

  it('moves between nav links with the arrow keys', async () => {
    const user = userEvent.setup();
    render(<App />);
    screen.getByTestId('nav-dashboard').focus();
    await user.keyboard('{ArrowDown}');
    expect(screen.getByTestId('nav-audit')).toHaveFocus();
    await user.keyboard('{ArrowUp}{ArrowUp}');
    expect(screen.getByTestId('nav-settings')).toHaveFocus();
  });
});
