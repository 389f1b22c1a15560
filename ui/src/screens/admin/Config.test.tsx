import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as admin from '../../apiAdmin';
import type { ConfigVersion, DryRunView, VersionDetail } from '../../apiAdmin';
import { commandError } from '../../test/fixtures';
import { Config } from './Config';
import { makeSite } from './fixtures';

vi.mock('../../apiAdmin');

function version(n: number, comment = ''): ConfigVersion {
  return { version: n, author: 'anna@head-office', at: Date.UTC(2026, 11, n, 14, 3), comment, content_hash: `h${n}` };
}

const CURRENT: VersionDetail = {
  ...version(3, 'larger batches'),
  entries: [
    { scope: 'tenant', key: 'sync.batch_size', type: 'number', value: 500, secret: false, reveal: false },
    { scope: 'tenant', key: 'db.password', type: 'string', value: '********', secret: true, reveal: true },
    { scope: 'global', key: 'server.region', type: 'string', value: 'eu', secret: false, reveal: false },
    { scope: 'client:kxc_store12', key: 'printer', type: 'string', value: 'HP-2', secret: false, reveal: false },
  ],
};

function dryRun(diff: DryRunView['diff'], n = 4): DryRunView {
  return {
    dry_run: true,
    version: n,
    diff,
    rendered_for: 'tenant',
    renderings: {
      json: { 'sync.batch_size': 1000 },
      xml: '<configuration><appSettings><add key="sync.batch_size" value="1000" /></appSettings></configuration>',
      ini: '[sync]\nbatch_size = 1000\n',
    },
  };
}

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(admin.siteNames).mockResolvedValue([makeSite()]);
  vi.mocked(admin.configVersions).mockResolvedValue([version(3, 'larger batches'), version(2, 'first prices'), version(1)]);
  vi.mocked(admin.configVersion).mockResolvedValue(CURRENT);
  vi.mocked(admin.configDrift).mockResolvedValue([]);
});

describe('Configuration', () => {
  it('shows the current settings grouped by scope, site names for site scopes, secrets masked', async () => {
    render(<Config />);
    const groups = await screen.findAllByTestId('config-scope-group');
    expect(groups.map((g) => within(g).getAllByRole('columnheader')[0].textContent)).toEqual(['Global', 'This tenant', 'Store 12']);
    const secret = screen.getAllByTestId('config-entry-row').find((r) => within(r).queryByText('db.password'))!;
    expect(within(secret).getByRole('img', { name: 'Secret' })).toBeInTheDocument();
    expect(secret).not.toHaveTextContent('********');
    expect(secret).toHaveTextContent('sites read it in clear');
    expect(admin.configVersion).toHaveBeenCalledWith(3);
    expect(await screen.findByTestId('config-drift-none')).toHaveTextContent('Every site runs the current configuration');
  });

  it('previews a change (a dry run) with its diff and renderings, then publishes it with the comment', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.setEntry)
      .mockResolvedValueOnce(dryRun([{ scope: 'tenant', key: 'sync.batch_size', change: 'changed', from: 500, to: 1000 }]))
      .mockResolvedValueOnce(version(4, 'bigger batches for the sale'));
    render(<Config />);
    await screen.findAllByTestId('config-entry-row');

    await user.type(screen.getByTestId('config-key'), 'sync.batch_size');
    await user.selectOptions(screen.getByTestId('config-type'), 'number');
    await user.type(screen.getByTestId('config-value'), '1000');
    expect(screen.getByTestId('config-preview-button')).toBeDisabled();
    await user.type(screen.getByTestId('config-comment'), '  ');
    expect(screen.getByTestId('config-preview-button')).toBeDisabled();
    await user.type(screen.getByTestId('config-comment'), 'bigger batches for the sale');
    await user.click(screen.getByTestId('config-preview-button'));

    const entry = {
      scope: 'tenant',
      key: 'sync.batch_size',
      value: 1000,
      type: 'number',
      secret: false,
      reveal: false,
      comment: 'bigger batches for the sale',
    };
    expect(admin.setEntry).toHaveBeenLastCalledWith(entry, true);
    const row = await screen.findByTestId('config-diff-row');
    expect(row).toHaveTextContent('Changed');
    expect(row).toHaveTextContent('500 → 1000');
    expect(screen.getByTestId('config-preview')).toHaveTextContent('"sync.batch_size": 1000');
    await user.click(screen.getByTestId('config-preview-ini'));
    expect(screen.getByTestId('config-preview')).toHaveTextContent('batch_size = 1000');
    await user.click(screen.getByTestId('config-preview-xml'));
    expect(screen.getByTestId('config-preview')).toHaveTextContent('<add key="sync.batch_size" value="1000" />');

    expect(admin.setEntry).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId('config-publish')).toHaveTextContent('Publish version 4');
    await user.click(screen.getByTestId('config-publish'));
    expect(admin.setEntry).toHaveBeenLastCalledWith(entry, false);
    expect(await screen.findByTestId('config-published')).toHaveTextContent('Version 4 is published');
    expect(admin.configVersions).toHaveBeenCalledTimes(2);
    expect(screen.queryByTestId('config-diff-row')).not.toBeInTheDocument();
  });

  it('sends a secret from a password field, with reveal only for secrets, to a site by its name', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.setEntry).mockResolvedValue(dryRun([{ scope: 'client:kxc_store12', key: 'db.pass', change: 'added', from: null, to: '********' }]));
    render(<Config />);
    await screen.findAllByTestId('config-entry-row');
    expect(screen.queryByTestId('config-reveal')).not.toBeInTheDocument();
    await user.selectOptions(screen.getByTestId('config-scope'), 'Store 12');
    await user.type(screen.getByTestId('config-key'), 'db.pass');
    await user.click(screen.getByTestId('config-secret'));
    expect(screen.getByTestId('config-value')).toHaveAttribute('type', 'password');
    await user.type(screen.getByTestId('config-value'), 's3cret');
    await user.click(screen.getByTestId('config-reveal'));
    await user.type(screen.getByTestId('config-comment'), 'new database');
    await user.click(screen.getByTestId('config-preview-button'));
    expect(admin.setEntry).toHaveBeenCalledWith(
      expect.objectContaining({ scope: 'client:kxc_store12', value: 's3cret', secret: true, reveal: true }),
      true,
    );
    const row = await screen.findByTestId('config-diff-row');
    expect(row).toHaveTextContent('Store 12');
    expect(row).not.toHaveTextContent('s3cret');
  });

  it('says why a value cannot be sent, and shows the server’s refusal as it is', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.setEntry).mockRejectedValue(commandError('invalid', 'key: must not contain spaces'));
    render(<Config />);
    await screen.findAllByTestId('config-entry-row');
    await user.type(screen.getByTestId('config-key'), 'a b');
    await user.selectOptions(screen.getByTestId('config-type'), 'number');
    await user.type(screen.getByTestId('config-value'), 'lots');
    await user.type(screen.getByTestId('config-comment'), 'why not');
    await user.click(screen.getByTestId('config-preview-button'));
    expect(screen.getByTestId('error')).toHaveTextContent('The value must be a number');
    expect(admin.setEntry).not.toHaveBeenCalled();
    await user.clear(screen.getByTestId('config-value'));
    await user.type(screen.getByTestId('config-value'), '3');
    await user.click(screen.getByTestId('config-preview-button'));
    expect(await screen.findByTestId('error')).toHaveTextContent('key: must not contain spaces');
  });

  it('lists the history and rolls back to an older version through the same preview', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.rollback)
      .mockResolvedValueOnce(dryRun([{ scope: 'tenant', key: 'sync.batch_size', change: 'changed', from: 500, to: 100 }]))
      .mockResolvedValueOnce(version(4, 'back to small batches'));
    render(<Config />);
    const rows = await screen.findAllByTestId('config-version-row');
    expect(rows[0]).toHaveTextContent('Version 3 · 3 Dec 2026, 14:03 · by anna@head-office · larger batches');
    expect(within(rows[0]).queryByTestId('config-rollback')).not.toBeInTheDocument();

    await user.click(within(rows[1]).getByTestId('config-rollback'));
    expect(screen.getByRole('heading', { name: 'Roll back to version 2' })).toBeInTheDocument();
    expect(screen.queryByTestId('config-key')).not.toBeInTheDocument();
    await user.type(screen.getByTestId('config-comment'), 'back to small batches');
    await user.click(screen.getByTestId('config-preview-button'));
    expect(admin.rollback).toHaveBeenLastCalledWith(2, 'back to small batches', true);
    expect(await screen.findByTestId('config-diff-row')).toHaveTextContent('500 → 100');
    await user.click(screen.getByTestId('config-publish'));
    expect(admin.rollback).toHaveBeenLastCalledWith(2, 'back to small batches', false);
    expect(await screen.findByTestId('config-published')).toHaveTextContent('Version 4 is published');
    expect(screen.getByTestId('config-key')).toBeInTheDocument();
  });

  it('removes a setting after a dry run', async () => {
    const user = userEvent.setup();
    vi.mocked(admin.unsetEntry)
      .mockResolvedValueOnce(dryRun([{ scope: 'client:kxc_store12', key: 'printer', change: 'removed', from: 'HP-2', to: null }]))
      .mockResolvedValueOnce(version(4));
    render(<Config />);
    const row = (await screen.findAllByTestId('config-entry-row')).find((r) => within(r).queryByText('printer'))!;
    await user.click(within(row).getByTestId('config-remove'));
    expect(screen.getByRole('heading', { name: 'Remove printer from Store 12' })).toBeInTheDocument();
    await user.type(screen.getByTestId('config-comment'), 'printer replaced');
    await user.click(screen.getByTestId('config-preview-button'));
    expect(admin.unsetEntry).toHaveBeenLastCalledWith('client:kxc_store12', 'printer', 'printer replaced', true);
    expect(await screen.findByTestId('config-diff-row')).toHaveTextContent('Removed');
    await user.click(screen.getByTestId('config-publish'));
    expect(admin.unsetEntry).toHaveBeenLastCalledWith('client:kxc_store12', 'printer', 'printer replaced', false);
  });

  it('names the sites on an older configuration', async () => {
    vi.mocked(admin.configDrift).mockResolvedValue([
      { client_id: 'kxc_store12', name: 'Store 12', expected_hash: 'h3', reported_hash: 'h2', reported_at: Date.UTC(2026, 11, 2, 9, 30) },
    ]);
    render(<Config />);
    expect(await screen.findByTestId('config-drift-row')).toHaveTextContent('Store 12 runs an older configuration since 2 Dec 2026, 09:30');
    expect(screen.queryByTestId('config-drift-none')).not.toBeInTheDocument();
  });
});
