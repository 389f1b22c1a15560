import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../api';
import { commandError, makeDeadLetter } from '../test/fixtures';
import { DeadLetters } from './DeadLetters';

vi.mock('../api');

const ORDER = makeDeadLetter({ id: 7, record_id: 'A-1001', data: '{"total":"twelve"}', reason: 'total must be a number' });
const CUSTOMER = makeDeadLetter({ id: 8, entity: 'customers', record_id: 'C-9', data: '{"name":""}', reason: 'name is empty' });

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.deadLetters).mockResolvedValue([ORDER, CUSTOMER]);
  vi.mocked(api.fixDeadLetter).mockResolvedValue();
  vi.mocked(api.retryDeadLetters).mockResolvedValue();
  vi.mocked(api.discardDeadLetters).mockResolvedValue();
});

describe('Dead letters', () => {
  it('shows a record with its reason and pretty data when staff select it', async () => {
    const user = userEvent.setup();
    render(<DeadLetters />);
    const rows = await screen.findAllByTestId('dead-letter-row');
    expect(rows).toHaveLength(2);

    await user.click(rows[0]);
    expect(screen.getByTestId('dead-letter-reason')).toHaveTextContent('total must be a number');
    expect(screen.getByTestId('dead-letter-data')).toHaveValue('{\n  "total": "twelve"\n}');
  });

  it('refuses data that is not a JSON object, then resends the edited text', async () => {
    const user = userEvent.setup();
    render(<DeadLetters />);
    await user.click((await screen.findAllByTestId('dead-letter-row'))[0]);
    const data = screen.getByTestId('dead-letter-data');
    const fix = screen.getByTestId('dead-letter-fix');

    await user.clear(data);
    await user.type(data, '{{"total": 12.5');
    expect(fix).toBeDisabled();
    expect(screen.getByRole('alert')).toHaveTextContent('Not valid JSON');

    await user.clear(data);
    await user.type(data, '[[1, 2]');
    expect(fix).toBeDisabled();
    expect(screen.getByRole('alert')).toHaveTextContent('must be a JSON object');

    await user.clear(data);
    await user.type(data, '{{"total": 12.5}');
    expect(fix).toBeEnabled();
    await user.click(fix);

    expect(api.fixDeadLetter).toHaveBeenCalledWith(7, '{"total": 12.5}');
    expect(await screen.findByText(/corrected and queued to send/)).toBeInTheDocument();
    expect(api.deadLetters).toHaveBeenCalledTimes(2);
  });

  it('retries the selected records', async () => {
    const user = userEvent.setup();
    render(<DeadLetters />);
    await screen.findAllByTestId('dead-letter-row');
    expect(screen.getByTestId('dead-letter-retry')).toBeDisabled();

    await user.click(screen.getByRole('checkbox', { name: 'Select customers C-9' }));
    await user.click(screen.getByTestId('dead-letter-retry'));
    expect(api.retryDeadLetters).toHaveBeenCalledWith([8]);
    expect(await screen.findByText('1 record queued to send again.')).toBeInTheDocument();
  });

  it('discards only after the user confirms', async () => {
    const user = userEvent.setup();
    render(<DeadLetters />);
    await screen.findAllByTestId('dead-letter-row');
    await user.click(screen.getByRole('checkbox', { name: 'Select all' }));

    await user.click(screen.getByTestId('dead-letter-discard'));
    const question = screen.getByRole('alertdialog');
    expect(question).toHaveTextContent('Discard 2 records for good?');
    expect(api.discardDeadLetters).not.toHaveBeenCalled();

    await user.click(within(question).getByRole('button', { name: 'Cancel' }));
    expect(api.discardDeadLetters).not.toHaveBeenCalled();

    await user.click(screen.getByTestId('dead-letter-discard'));
    await user.click(screen.getByTestId('dead-letter-discard-confirm'));
    expect(api.discardDeadLetters).toHaveBeenCalledWith([7, 8]);
  });

  it('shows the agent\'s reason when a fix is refused', async () => {
    const user = userEvent.setup();
    vi.mocked(api.fixDeadLetter).mockRejectedValue(commandError('not_found', 'The record no longer exists in the dead-letter list.'));
    render(<DeadLetters />);
    await user.click((await screen.findAllByTestId('dead-letter-row'))[1]);
    await user.clear(screen.getByTestId('dead-letter-data'));
    await user.type(screen.getByTestId('dead-letter-data'), '{{"name": "Ann"}');
    await user.click(screen.getByTestId('dead-letter-fix'));
    expect(await screen.findByTestId('error')).toHaveTextContent('no longer exists');
  });

  it('has an empty state and an error state', async () => {
    vi.mocked(api.deadLetters).mockResolvedValueOnce([]);
    const { unmount } = render(<DeadLetters />);
    expect(await screen.findByText('No dead letters.')).toBeInTheDocument();
    unmount();

    vi.mocked(api.deadLetters).mockRejectedValueOnce(commandError('local', 'The local database is locked.'));
    render(<DeadLetters />);
    expect(await screen.findByTestId('error')).toHaveTextContent('The local database is locked.');
  });
});
