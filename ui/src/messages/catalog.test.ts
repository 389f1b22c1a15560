/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest';
import { STAFF_SCREENS } from '../lib/route';
import { CATALOG, t } from './index';
import { STAFF } from './staff';

// The staff screens' sources, and the shell and helpers whose words they show.
const SOURCES: Record<string, string> = import.meta.glob(
  [
    '../screens/staff/**/*.{ts,tsx}',
    '../App.tsx',
    '../components/*.tsx',
    '../lib/{statusSentence,refused,runSummary,recordForm}.ts',
    '!../**/*.test.{ts,tsx}',
  ],
  { query: '?raw', import: 'default', eager: true },
);

const STAFF_PREFIX = /^(status|attention|history|settings)\./;

/** Every `t('key'…)` call, and every quoted string shaped like a staff key (maps of keys). */
function keysIn(source: string): string[] {
  const calls = [...source.matchAll(/\bt\(\s*'([^']+)'/g)].map((m) => m[1]);
  const literals = [...source.matchAll(/'([a-z]+(?:\.[A-Za-z0-9]+)+)'/g)].map((m) => m[1]).filter((k) => STAFF_PREFIX.test(k));
  return [...calls, ...literals];
}

describe('the staff wording catalog', () => {
  it('has the staff sources to check', () => {
    expect(Object.keys(SOURCES).length).toBeGreaterThan(10);
  });

  it('holds every key the staff screens use', () => {
    const missing = Object.entries(SOURCES).flatMap(([file, source]) =>
      keysIn(source)
        .filter((key) => !(key in CATALOG))
        .map((key) => `${file}: ${key}`),
    );
    expect(missing).toEqual([]);
  });

  it('holds no staff key that no screen uses', () => {
    const used = new Set(Object.values(SOURCES).flatMap(keysIn));
    expect(Object.keys(STAFF).filter((key) => !used.has(key))).toEqual([]);
  });

  it('names every staff key after its screen, and every staff screen in the nav', () => {
    expect(Object.keys(STAFF).filter((key) => !STAFF_PREFIX.test(key))).toEqual([]);
    for (const screen of STAFF_SCREENS) expect(CATALOG[`nav.${screen}`]).toBeTruthy();
  });

  it('leaves no sentence hard-coded in a staff component', () => {
    const tsx = Object.entries(SOURCES).filter(([file]) => file.endsWith('.tsx'));
    // Text between JSX tags (">Sync Now<") or in a user-facing attribute.
    const hardCoded = tsx.flatMap(([file, source]) =>
      [...source.matchAll(/(?<![=-])>\s*([A-Za-z][^<>{}();=]*?)\s*<|\b(?:title|aria-label|placeholder)="([A-Za-z][^"]*)"/g)]
        .map((m) => m[1] ?? m[2])
        .filter((text) => !/^kendrix1:/.test(text))
        .map((text) => `${file}: ${text}`),
    );
    expect(hardCoded).toEqual([]);
  });

  it('fills in variables and counts', () => {
    expect(t('status.attention', { n: 1 })).toBe('1 record needs your attention');
    expect(t('status.attention', { n: 1200 })).toBe('1,200 records need your attention');
    expect(t('settings.site.connected', { tenant: 'Acme Stores', name: 'Store 12' })).toBe('Connected to Acme Stores · Store 12');
    expect(t('no.such.key')).toBe('no.such.key');
  });
});
