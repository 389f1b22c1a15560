import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../../api';
import { commandError, makeDeadLetter, makeStatus } from '../../test/fixtures';
import { Attention } from './Attention';

vi.mock('../../api');

const BIG_NOTE = makeDeadLetter({
  id: 7,
  record_id: 'A-1007',
  reason: '"data" is 70012 bytes; at most 65536 are accepted',
  data: JSON.stringify({ total: 12.5, paid: false, note: 'x'.repeat(70_000) }),
});
const BIG_PHOTO = makeDeadLetter({
  id: 8,
  record_id: 'A-1008',
  reason: '"data" is 81000 bytes; at most 65536 are accepted',
  data: JSON.stringify({ photo: 'y'.repeat(81_000) }),
});
const REMOVAL = makeDeadLetter({ id: 9, record_id: 'C-3', entity: 'customers', op: 'delete', data: null, reason: 'customer C-3 has open orders' });

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(api.deadLetters).mockResolvedValue([BIG_NOTE, BIG_PHOTO, REMOVAL]);
  vi.mocked(api.retryDeadLetters).mockResolvedValue();
  vi.mocked(api.discardDeadLetters).mockResolvedValue();
  vi.mocked(api.fixDeadLetter).mockResolvedValue();
});

describe('Needs attention', () => {
  it('groups the refused records by reason, in plain words, without versions or protocol words', async () => {
    render(<Attention />);
    const groups = await screen.findAllByTestId('attention-group');
    expect(groups).toHaveLength(2);
    expect(groups[0]).toHaveTextContent('Too large to send — the limit is 64 KB');
    expect(groups[0]).toHaveTextContent('2 records');
    expect(within(groups[0]).getAllByTestId('attention-row').map((r) => r.textContent)).toEqual([
      expect.stringContaining('Orders A-1007Note is 68 KB; the limit is 64 KB'),
      expect.stringContaining('Orders A-1008Photo is 79 KB; the limit is 64 KB'),
    ]);
    expect(groups[1]).toHaveTextContent('Customer C-3 has open orders');
    expect(groups[1]).toHaveTextContent('Removal of customers C-3');
    expect(document.body.textContent).not.toMatch(/upsert|delete|1732838400123/);
  });

  it('staff shorten the note in the drawer’s form and resend the record', async () => {
    const user = userEvent.setup();
    render(<Attention />);
    await user.click((await screen.findAllByTestId('attention-row'))[0]);
    expect(screen.getByTestId('attention-reason')).toHaveTextContent('Note is 68 KB; the limit is 64 KB');
    expect(screen.getByTestId('attention-field-total')).toHaveValue('12.5');
    expect(screen.getByTestId('attention-field-paid')).not.toBeChecked();
    expect(screen.getByTestId('attention-fix')).toBeDisabled();

    const note = screen.getByTestId('attention-field-note');
    await user.clear(note);
    await user.type(note, 'Deliver to the back door');
    await user.click(screen.getByTestId('attention-field-paid'));
    await user.click(screen.getByTestId('attention-fix'));

    expect(api.fixDeadLetter).toHaveBeenCalledWith(7, JSON.stringify({ total: 12.5, paid: true, note: 'Deliver to the back door' }));
    expect(await screen.findByTestId('attention-notice')).toHaveTextContent('Orders A-1007 was corrected and will be sent again.');
    expect(screen.queryByTestId('attention-drawer')).toBeNull();
    expect(api.deadLetters).toHaveBeenCalledTimes(2);
  });

  it('a number must stay a number, and Edit as JSON edits the whole record', async () => {
    const user = userEvent.setup();
    render(<Attention />);
    await user.click((await screen.findAllByTestId('attention-row'))[1]);
    await user.click(screen.getByTestId('attention-json-toggle'));
    const json = screen.getByTestId('attention-json');
    expect(JSON.parse((json as HTMLTextAreaElement).value)).toEqual({ photo: 'y'.repeat(81_000) });

    await user.clear(json);
    await user.type(json, '{{"photo": null');
    expect(screen.getByText('Not valid JSON.')).toBeInTheDocument();
    expect(screen.getByTestId('attention-fix')).toBeDisabled();
    await user.type(json, '}');
    await user.click(screen.getByTestId('attention-fix'));
    expect(api.fixDeadLetter).toHaveBeenCalledWith(8, '{"photo":null}');

    await user.click(screen.getAllByTestId('attention-row')[0]);
    const total = screen.getByTestId('attention-field-total');
    await user.clear(total);
    await user.type(total, 'twelve');
    expect(screen.getByText('Enter a number.')).toBeInTheDocument();
    expect(screen.getByTestId('attention-fix')).toBeDisabled();
  });

  it('retries a record unchanged, and discards one after confirming', async () => {
    const user = userEvent.setup();
    render(<Attention />);
    await user.click((await screen.findAllByTestId('attention-row'))[2]);
    expect(screen.getByTestId('attention-reason')).toHaveTextContent('Customer C-3 has open orders');
    expect(screen.queryByTestId('attention-fix')).toBeNull();
    await user.click(screen.getByTestId('attention-retry'));
    expect(api.retryDeadLetters).toHaveBeenCalledWith([9]);

    await user.click(screen.getAllByTestId('attention-row')[0]);
    await user.click(screen.getByTestId('attention-discard'));
    expect(api.discardDeadLetters).not.toHaveBeenCalled();
    await user.click(screen.getByTestId('confirm-yes'));
    expect(api.discardDeadLetters).toHaveBeenCalledWith([7]);
    expect(await screen.findByTestId('attention-notice')).toHaveTextContent('1 record discarded.');
  });

  it('retries or discards a whole group', async () => {
    const user = userEvent.setup();
    render(<Attention />);
    const [tooLarge] = await screen.findAllByTestId('attention-group');
    await user.click(within(tooLarge).getByTestId('attention-group-retry'));
    expect(api.retryDeadLetters).toHaveBeenCalledWith([7, 8]);
    expect(await screen.findByTestId('attention-notice')).toHaveTextContent('2 records will be sent again.');

    await user.click(within(screen.getAllByTestId('attention-group')[0]).getByTestId('attention-group-discard'));
    expect(screen.getByRole('alertdialog')).toHaveTextContent('Discard 2 records for good?');
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(api.discardDeadLetters).not.toHaveBeenCalled();
    await user.click(within(screen.getAllByTestId('attention-group')[0]).getByTestId('attention-group-discard'));
    await user.click(screen.getByTestId('confirm-yes'));
    expect(api.discardDeadLetters).toHaveBeenCalledWith([7, 8]);
  });

  it('reads the list again when records are refused while it is open', async () => {
    let emit: (s: api.Status) => void = () => {};
    vi.mocked(api.onStatus).mockImplementation(async (cb) => {
      emit = (s) => act(() => cb(s));
      return () => {};
    });
    render(<Attention />);
    await screen.findAllByTestId('attention-group');
    emit(makeStatus({ dead_letters: 3 }));
    emit(makeStatus({ dead_letters: 3 }));
    expect(api.deadLetters).toHaveBeenCalledTimes(1);
    vi.mocked(api.deadLetters).mockResolvedValue([BIG_NOTE, BIG_PHOTO, REMOVAL, makeDeadLetter({ id: 10, record_id: 'A-1010' })]);
    emit(makeStatus({ dead_letters: 4 }));
    expect(api.deadLetters).toHaveBeenCalledTimes(2);
    expect(await screen.findByText('Orders A-1010')).toBeInTheDocument();
  });

  it('says when nothing needs attention, and shows a failure as the agent worded it', async () => {
    vi.mocked(api.deadLetters).mockResolvedValue([]);
    const { unmount } = render(<Attention />);
    expect(await screen.findByText('Nothing needs your attention')).toBeInTheDocument();
    unmount();

    vi.mocked(api.deadLetters).mockResolvedValue([BIG_NOTE]);
    vi.mocked(api.retryDeadLetters).mockRejectedValue(commandError('local', 'The local database is locked.'));
    render(<Attention />);
    await userEvent.click(await screen.findByTestId('attention-group-retry'));
    expect(await screen.findByTestId('error')).toHaveTextContent('The local database is locked.');
  });
});
