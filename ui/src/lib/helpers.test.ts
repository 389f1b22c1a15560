import { describe, expect, it } from 'vitest';
import { barHeight, compactNumber, niceMax, ticks } from './chart';
import { effectiveRows, formatConfigValue, groupDiff } from './configDiff';
import { asCommandError, errorMessage, lacksPermission } from './errors';
import { parseJsonObject, prettyJson } from './json';
import { hrefFor, routeFromHash } from './route';
import { formatAgo, formatBytes, formatDateTime, formatDue, formatDuration } from './time';

const NOW = Date.UTC(2025, 2, 12, 14, 0, 0);

describe('time formatting', () => {
  it('says how long ago in the past tense, even when the PC clock runs a little behind', () => {
    expect(formatAgo(NOW - 10_000, NOW)).toBe('just now');
    expect(formatAgo(NOW + 10_000, NOW)).toBe('just now');
    expect(formatAgo(NOW + 10 * 60_000, NOW)).toBe('just now');
    expect(formatAgo(NOW - 5 * 60_000, NOW)).toBe('5 min ago');
    expect(formatAgo(NOW - 3 * 3_600_000, NOW)).toBe('3 h ago');
    expect(formatAgo(NOW - 24 * 3_600_000, NOW)).toBe('1 day ago');
    expect(formatAgo(NOW - 72 * 3_600_000, NOW)).toBe('3 days ago');
  });

  it('says when something is due in the future tense', () => {
    expect(formatDue(NOW + 10_000, NOW)).toBe('in a moment');
    expect(formatDue(NOW + 90_000, NOW)).toBe('in 2 min');
    expect(formatDue(NOW - 1, NOW)).toBe('due now');
  });

  it('writes exact times one way, in local time (tests run in UTC)', () => {
    expect(formatDateTime(Date.UTC(2025, 0, 5, 7, 8, 9))).toBe('5 Jan 2025, 07:08');
    expect(formatDateTime(Date.UTC(2025, 0, 5, 7, 8, 9), true)).toBe('5 Jan 2025, 07:08:09');
  });

  it('writes sizes as staff read them', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(70_012)).toBe('68 KB');
    expect(formatBytes(65_536)).toBe('64 KB');
  });

  it('writes durations from milliseconds to minutes', () => {
    expect(formatDuration(0.42)).toBe('0.4 ms');
    expect(formatDuration(350)).toBe('350 ms');
    expect(formatDuration(4_200)).toBe('4.2 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatDuration(120_000)).toBe('2 min');
  });
});

describe('chart scaling', () => {
  it('rounds the axis up to 1, 2 or 5 times a power of ten', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(13)).toBe(20);
    expect(niceMax(420)).toBe(500);
    expect(niceMax(1000)).toBe(1000);
  });

  it('scales bars to the axis and keeps tiny values visible', () => {
    expect(barHeight(50, 100, 140)).toBe(70);
    expect(barHeight(0, 100, 140)).toBe(0);
    expect(barHeight(0.01, 1000, 140)).toBe(1);
    expect(barHeight(200, 100, 140)).toBe(140);
    expect(barHeight(5, 0, 140)).toBe(0);
  });

  it('puts evenly spaced ticks and compact labels on the axis', () => {
    expect(ticks(200)).toEqual([0, 50, 100, 150, 200]);
    expect(compactNumber(1500)).toBe('1.5k');
    expect(compactNumber(2_000_000)).toBe('2M');
    expect(compactNumber(12.5)).toBe('12.5');
  });
});

describe('config diff and values', () => {
  it('groups diff lines by change, sorted by scope then key', () => {
    const groups = groupDiff([
      { scope: 'tenant', key: 'b', change: 'added', from: null, to: 1 },
      { scope: 'global', key: 'z', change: 'added', from: null, to: 2 },
      { scope: 'tenant', key: 'a', change: 'changed', from: 1, to: 2 },
      { scope: 'tenant', key: 'c', change: 'removed', from: 'x', to: null },
    ]);
    expect(groups.added.map((l) => `${l.scope}/${l.key}`)).toEqual(['global/z', 'tenant/b']);
    expect(groups.removed).toHaveLength(1);
    expect(groups.changed[0].key).toBe('a');
  });

  it('reads the effective JSON rendering into typed rows and marks masked secrets', () => {
    const rows = effectiveRows('{"b": true, "a": "********", "n": 5, "j": {"x": 1}}');
    expect(rows).toEqual([
      { key: 'a', value: '********', type: 'string', secret: true },
      { key: 'b', value: 'true', type: 'bool', secret: false },
      { key: 'j', value: '{"x":1}', type: 'json', secret: false },
      { key: 'n', value: '5', type: 'number', secret: false },
    ]);
    expect(() => effectiveRows('[1]')).toThrow(/not a JSON object/);
  });

  it('shows strings as they are and other values as JSON', () => {
    expect(formatConfigValue('a "b"')).toBe('a "b"');
    expect(formatConfigValue([1, 2])).toBe('[1,2]');
    expect(formatConfigValue(null)).toBe('');
  });
});

describe('JSON object check', () => {
  it('accepts objects only, saying why anything else is refused', () => {
    expect(parseJsonObject('{"total": 12.5}')).toEqual({ ok: true, value: { total: 12.5 } });
    expect(parseJsonObject('')).toMatchObject({ ok: false, error: expect.stringMatching(/empty/) });
    expect(parseJsonObject('{total: 1}')).toMatchObject({ ok: false, error: expect.stringMatching(/Not valid JSON/) });
    expect(parseJsonObject('[1]')).toMatchObject({ ok: false, error: expect.stringMatching(/JSON object/) });
    expect(parseJsonObject('null')).toMatchObject({ ok: false });
    expect(parseJsonObject('"text"')).toMatchObject({ ok: false });
  });

  it('pretty-prints JSON and leaves other text alone', () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson('not json')).toBe('not json');
    expect(prettyJson(null)).toBe('');
  });
});

describe('errors', () => {
  it('passes the agent\'s message through and recognises a refused permission by its code', () => {
    expect(errorMessage('The server cannot be reached.')).toBe('The server cannot be reached.');
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage({ code: 'offline', message: 'The server cannot be reached.' })).toBe(
      'The server cannot be reached.',
    );
    expect(lacksPermission({ code: 'permission', message: 'token lacks audit:read' })).toBe(true);
    expect(lacksPermission({ code: 'offline', message: 'server answered 403 Forbidden' })).toBe(false);
    expect(lacksPermission({ code: 'unknown', message: 'insufficient_scope' })).toBe(false);
  });

  it('gives a failure without a code the code unknown and keeps its words', () => {
    expect(asCommandError({ code: 'disk', message: 'the disk is full' })).toEqual({
      code: 'disk',
      message: 'the disk is full',
    });
    expect(asCommandError('command status not found')).toEqual({
      code: 'unknown',
      message: 'command status not found',
    });
    expect(asCommandError({ code: 7 }).code).toBe('unknown');
  });
});

describe('routes', () => {
  it('maps the location hash to a screen and its parameter, Status by default', () => {
    expect(routeFromHash('#/audit')).toEqual({ screen: 'audit', param: null });
    expect(routeFromHash('#/site/kxc_1%2F2')).toEqual({ screen: 'site', param: 'kxc_1/2' });
    expect(routeFromHash('')).toEqual({ screen: 'status', param: null });
    expect(routeFromHash('#/nowhere')).toEqual({ screen: 'status', param: null });
    expect(hrefFor('site', 'kxc_1/2')).toBe('#/site/kxc_1%2F2');
  });
});
