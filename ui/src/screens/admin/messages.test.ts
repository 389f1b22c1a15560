/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest';
import { CATALOG, t } from '../../messages';
import { ADMIN } from '../../messages/admin';

// Every admin module's source, as text (tests left out).
const SOURCES = {
  ...import.meta.glob<string>('./**/*.{ts,tsx}', { query: '?raw', import: 'default', eager: true }),
  ...import.meta.glob<string>('../../components/admin/**/*.{ts,tsx}', { query: '?raw', import: 'default', eager: true }),
  ...import.meta.glob<string>('../../lib/admin/**/*.{ts,tsx}', { query: '?raw', import: 'default', eager: true }),
};

function keysUsed(): Map<string, string> {
  const used = new Map<string, string>();
  for (const [file, text] of Object.entries(SOURCES)) {
    if (/\.test\.tsx?$/.test(file) || file.endsWith('fixtures.ts')) continue;
    for (const m of text.matchAll(/\bt\(\s*'([^']+)'/g)) used.set(m[1], file);
    // Keys kept in lookup tables (e.g. outcome → key) are quoted `admin.…` strings.
    for (const m of text.matchAll(/'(admin\.[a-z0-9_.]+)'/g)) used.set(m[1], file);
  }
  return used;
}

describe('admin wording', () => {
  it('has a message for every key the admin screens use', () => {
    const used = keysUsed();
    expect(used.size).toBeGreaterThan(150);
    const missing = [...used].filter(([key]) => !(key in CATALOG)).map(([key, file]) => `${key} (${file})`);
    expect(missing).toEqual([]);
  });

  it('keeps admin keys under the admin. prefix and fills every placeholder', () => {
    expect(Object.keys(ADMIN).filter((k) => !k.startsWith('admin.'))).toEqual([]);
    expect(t('admin.version', { n: 3 })).toBe('Version 3');
    expect(t('admin.audit.chain_ok', { n: 1 })).toBe('Chain verified ✓ · 1 entry');
    expect(t('admin.site.run_result', { sent: 500, refused: 0 })).toBe('Sent 500');
    expect(t('admin.sites.attention_count', { n: 2 })).toBe('2 sites need attention');
  });
});
