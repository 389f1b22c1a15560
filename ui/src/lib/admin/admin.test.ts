import { describe, expect, it } from 'vitest';
import { auditQuery, NO_FILTER, presetFilter } from './auditQuery';
import { toEntry, EMPTY_FIELDS } from './configForm';
import { auditSummary, eventLabel, eventsFor, humanise } from './events';
import { versionName } from './format';
import { scopeName, namesOf } from './sites';

describe('audit event names', () => {
  it('reads known events from the catalog and humanises the others', () => {
    expect(eventLabel('sync.batch.applied')).toBe('Batch applied');
    expect(eventLabel('client.secret_rotated')).toBe('Secret rotated');
    expect(eventLabel('backup.made_now')).toBe('Backup made now');
    expect(humanise('')).toBe('');
  });

  it('summarises entries from their details', () => {
    expect(auditSummary('sync.batch.applied', { records: 1, applied: 1, rejected: 0 })).toBe('1 record · 1 applied');
    expect(auditSummary('token.denied', { reason: 'invalid_scope' })).toBe('invalid_scope');
    expect(auditSummary('token.issued', { scope: 'sync:write', expires_in: 900, nested: {} })).toBe('scope: sync:write · expires_in: 900');
    expect(auditSummary('x', null)).toBe('');
  });

  it('makes the server filter from chips and presets', () => {
    expect(eventsFor([])).toBeNull();
    expect(eventsFor(['sites', 'config'])).toBe('config.changed,config.secret_read,config.key_rotated,client.registered,client.revoked,client.secret_rotated,tenant.created');
    expect(auditQuery(NO_FILTER)).toEqual({});
    expect(auditQuery({ ...presetFilter('config', 1_000_000_000), q: ' x ' })).toEqual({
      event: 'config.changed,config.secret_read,config.key_rotated',
      since: 1_000_000_000 - 7 * 86_400_000,
      q: 'x',
    });
  });
});

describe('configuration helpers', () => {
  it('names versions and scopes the one way', () => {
    expect(versionName('1.3')).toBe('Version 3');
    expect(versionName(null)).toBe('—');
    const names = namesOf([{ client_id: 'kxc_1', name: 'Store 1' } as never]);
    expect(scopeName(names, 'client:kxc_1')).toBe('Store 1');
    expect(scopeName(names, 'client:kxc_2')).toBe('kxc_2');
    expect(scopeName(names, 'tenant')).toBe('This tenant');
  });

  it('types the value as the form says', () => {
    const base = { ...EMPTY_FIELDS, key: 'k', comment: ' c ' };
    expect(toEntry({ ...base, type: 'number', text: '0.5' })).toMatchObject({ ok: true, entry: { value: 0.5, comment: 'c' } });
    expect(toEntry({ ...base, type: 'bool', flag: true })).toMatchObject({ ok: true, entry: { value: true } });
    expect(toEntry({ ...base, type: 'json', text: '{"a":[1]}' })).toMatchObject({ ok: true, entry: { value: { a: [1] } } });
    expect(toEntry({ ...base, type: 'json', text: '{a' })).toMatchObject({ ok: false });
    expect(toEntry({ ...base, type: 'number', text: '' })).toMatchObject({ ok: false });
    expect(toEntry({ ...base, key: ' ' })).toMatchObject({ ok: false });
    expect(toEntry({ ...base, reveal: true })).toMatchObject({ ok: true, entry: { reveal: false } });
  });
});
