import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../api';
import type { ConfigFormat, ConfigVersion } from '../api';
import { commandError } from '../test/fixtures';
import { Config } from './Config';

vi.mock('../api');

const BODIES: Record<ConfigFormat, string> = {
  json: '{\n  "batch_size": 500,\n  "db.password": "********",\n  "site.name": "Store 12"\n}',
  xml: '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n    <add key="batch_size" value="500" />\n  </appSettings>\n</configuration>\n',
  ini: 'batch_size = "500"\n\n[db]\npassword = "********"\n',
};

function version(n: number, comment = ''): ConfigVersion {
  return { version: n, author: 'admin', at: Date.UTC(2025, 2, n), comment, content_hash: `h${n}` };
}

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.configEffective).mockImplementation(async (format) => ({
    body: BODIES[format],
    version: '1.3',
    etag: '"abcdef0123456789"',
  }));
  vi.mocked(api.configVersions).mockResolvedValue([version(3, 'larger batches'), version(2), version(1)]);
  vi.mocked(api.configDiff).mockResolvedValue([]);
});

describe('Config', () => {
  it('shows the effective settings with secrets masked behind a lock', async () => {
    render(<Config />);
    const rows = await screen.findAllByTestId('config-row');
    expect(rows).toHaveLength(3);
    const secret = rows.find((r) => within(r).queryByText('db.password'))!;
    expect(within(secret).getByText('********')).toBeInTheDocument();
    expect(within(secret).getByRole('img', { name: 'secret' })).toBeInTheDocument();
    const plain = rows.find((r) => within(r).queryByText('site.name'))!;
    expect(within(plain).queryByRole('img', { name: 'secret' })).not.toBeInTheDocument();
  });

  it('lists versions and diffs the newest against the one before, then the pair the user picks', async () => {
    const user = userEvent.setup();
    vi.mocked(api.configDiff).mockResolvedValue([
      { scope: 'tenant', key: 'batch_size', change: 'changed', from: 100, to: 500 },
      { scope: 'tenant', key: 'site.name', change: 'added', from: null, to: 'Store 12' },
      { scope: 'global', key: 'legacy.mode', change: 'removed', from: true, to: null },
      { scope: 'tenant', key: 'db.password', change: 'changed', from: '********', to: '********' },
    ]);
    render(<Config />);

    expect(await screen.findAllByTestId('config-version-row')).toHaveLength(3);
    const rows = await screen.findAllByTestId('config-diff-row');
    expect(api.configDiff).toHaveBeenCalledWith(2, 3);
    // Grouped: added, then removed, then changed.
    expect(rows.map((r) => r.dataset.change)).toEqual(['added', 'removed', 'changed', 'changed']);
    expect(within(rows[0]).getByText('Store 12')).toBeInTheDocument();
    expect(within(rows[1]).getByText('legacy.mode')).toBeInTheDocument();
    const batch = rows.find((r) => within(r).queryByText('batch_size'))!;
    expect(within(batch).getByText('100')).toBeInTheDocument();
    expect(within(batch).getByText('500')).toBeInTheDocument();

    await user.selectOptions(screen.getByTestId('config-diff-from'), '1');
    expect(api.configDiff).toHaveBeenLastCalledWith(1, 3);
  });

  it('says when two versions are the same or when the diff fails', async () => {
    const user = userEvent.setup();
    vi.mocked(api.configDiff).mockRejectedValue(commandError('refused', 'No such version in this tenant.'));
    render(<Config />);
    expect(await screen.findByTestId('error')).toHaveTextContent('No such version in this tenant.');
    await user.selectOptions(screen.getByTestId('config-diff-to'), '2');
    expect(screen.getByText('Pick two different versions to see what changed.')).toBeInTheDocument();
  });

  it('previews the configuration as JSON, XML and INI', async () => {
    const user = userEvent.setup();
    render(<Config />);
    expect(await screen.findByTestId('config-preview')).toHaveTextContent('"site.name": "Store 12"');

    await user.click(screen.getByTestId('config-preview-xml'));
    expect(await screen.findByTestId('config-preview')).toHaveTextContent('<add key="batch_size" value="500" />');
    expect(api.configEffective).toHaveBeenLastCalledWith('xml');

    await user.click(screen.getByTestId('config-preview-ini'));
    expect(await screen.findByTestId('config-preview')).toHaveTextContent('[db]');
  });

  it('explains a missing config:read permission, and shows an empty configuration as such', async () => {
    vi.mocked(api.configEffective).mockResolvedValue({ body: '{}', version: '0.0', etag: '"e"' });
    vi.mocked(api.configVersions).mockRejectedValue(commandError('permission', '403: insufficient_scope'));
    render(<Config />);
    expect(await screen.findByText('No settings yet.')).toBeInTheDocument();
    expect(await screen.findByText('This site may not read the configuration history.')).toBeInTheDocument();
    expect(screen.queryByTestId('error')).not.toBeInTheDocument();
  });
});
