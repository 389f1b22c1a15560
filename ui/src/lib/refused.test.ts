import { describe, expect, it } from 'vitest';
import { makeDeadLetter, NOW } from '../test/fixtures';
import { fromFields, sameData, toFields } from './recordForm';
import { groupRefused, plainReason, recordLabel } from './refused';

const TOO_BIG = '"data" is 70012 bytes; at most 65536 are accepted';

describe('plainReason: the server’s reason in staff’s words', () => {
  it('names the largest property of a record that is too large, sizes as staff read them', () => {
    const letter = makeDeadLetter({ reason: TOO_BIG, data: JSON.stringify({ total: 12, note: 'x'.repeat(70_000) }) });
    expect(plainReason(letter)).toBe('Note is 68 KB; the limit is 64 KB');
    const lines = makeDeadLetter({ reason: TOO_BIG, data: JSON.stringify({ order_lines: ['x'.repeat(70_000)] }) });
    expect(plainReason(lines)).toBe('Order lines is 68 KB; the limit is 64 KB');
    expect(plainReason(makeDeadLetter({ reason: TOO_BIG, data: null }))).toBe('The record is 68 KB; the limit is 64 KB');
  });

  it('names the deepest property of a record nested too deeply', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { a: deep };
    const letter = makeDeadLetter({ reason: '"data" is nested deeper than 32 levels', data: JSON.stringify({ name: 'x', tree: deep }) });
    expect(plainReason(letter)).toBe('Tree is nested more than 32 levels deep');
  });

  it('says what is wrong with an id, a record sent twice, or a refusal with no reason', () => {
    expect(plainReason(makeDeadLetter({ reason: '"id" is longer than 256 bytes' }))).toBe('The record’s id is too long; the limit is 256 bytes');
    expect(plainReason(makeDeadLetter({ reason: '"id" contains the control character U+0007; ids must be printable text' }))).toBe(
      'The record’s id contains an invisible character',
    );
    expect(plainReason(makeDeadLetter({ reason: '"id" must not be empty' }))).toBe('The record has no id');
    expect(plainReason(makeDeadLetter({ reason: 'the same record appears earlier in this batch; send one change per record' }))).toBe(
      'The same record was sent twice in one batch',
    );
    expect(plainReason(makeDeadLetter({ reason: 'rejected by the server' }))).toBe('The server refused this record');
  });

  it('reads every reason of a record with several, and passes unknown ones through readably', () => {
    const both = makeDeadLetter({ reason: `"id" must not be empty; ${TOO_BIG}`, data: '{"note":"x"}' });
    expect(plainReason(both)).toBe('Note is 68 KB; the limit is 64 KB. The record has no id');
    expect(plainReason(makeDeadLetter({ reason: '"total" must be a number' }))).toBe('Total must be a number');
    expect(plainReason(makeDeadLetter({ reason: 'customer 42 is unknown' }))).toBe('Customer 42 is unknown');
    expect(plainReason(makeDeadLetter({ reason: '' }))).toBe('The server refused this record');
  });

  it('never shows versions or protocol words', () => {
    const letter = makeDeadLetter({ reason: TOO_BIG, data: '{"note":"x"}' });
    expect(plainReason(letter)).not.toMatch(/upsert|delete|1732838400123/);
    expect(recordLabel(letter)).toBe('Orders A-1001');
    expect(recordLabel(makeDeadLetter({ op: 'delete', data: null, entity: 'order_lines' }))).toBe('Removal of order lines A-1001');
  });
});

describe('groupRefused', () => {
  it('groups records by reason (one group per limit, whatever each record’s size), the largest group first', () => {
    const letters = [
      makeDeadLetter({ id: 1, reason: 'customer 42 is unknown', at: NOW - 10 }),
      makeDeadLetter({ id: 2, reason: TOO_BIG, data: '{"note":"x"}', at: NOW - 5 }),
      makeDeadLetter({ id: 3, reason: '"data" is 90000 bytes; at most 65536 are accepted', data: '{"photo":"x"}', at: NOW - 20 }),
      makeDeadLetter({ id: 4, reason: 'customer 42 is unknown', at: NOW - 30 }),
      makeDeadLetter({ id: 5, reason: 'rejected by the server', at: NOW - 1 }),
    ];
    const groups = groupRefused(letters);
    expect(groups.map((g) => [g.heading, g.letters.map((d) => d.id)])).toEqual([
      ['Customer 42 is unknown', [4, 1]],
      ['Too large to send — the limit is 64 KB', [3, 2]],
      ['The server refused this record', [5]],
    ]);
    expect(groupRefused([])).toEqual([]);
  });
});

describe('record form', () => {
  it('turns data into typed fields and back', () => {
    const data = { total: 12.5, note: 'hi', paid: true, ref: null, lines: [1, 2] };
    const fields = toFields(data);
    expect(fields.map((f) => f.kind)).toEqual(['number', 'text', 'boolean', 'text', 'json']);
    expect(fromFields(fields)).toEqual({ ok: true, value: data });

    const edited = fields.map((f) => (f.key === 'total' ? { ...f, text: '13' } : f.key === 'ref' ? { ...f, text: 'R-1' } : f));
    expect(fromFields(edited)).toEqual({ ok: true, value: { ...data, total: 13, ref: 'R-1' } });

    const bad = fields.map((f) => (f.key === 'total' ? { ...f, text: 'twelve' } : f.key === 'lines' ? { ...f, text: '[1,' } : f));
    expect(fromFields(bad)).toEqual({ ok: false, errors: { total: 'Enter a number.', lines: 'Not valid JSON.' } });
    expect(sameData({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 })).toBe(true);
    expect(sameData({ a: 1 }, { a: '1' })).toBe(false);
  });
});
