import { describe, expect, it } from 'vitest';
import type { Problem } from '../api';
import { makeStatus, NOW } from '../test/fixtures';
import { statusSentence } from './statusSentence';

const MIN = 60_000;

describe('statusSentence: one plain sentence and the one action for every state', () => {
  it('all synced says when, in the past tense, with nothing to do', () => {
    const s = statusSentence(makeStatus({ all_synced: true, last_success_at: NOW - 5 * MIN, next_run_at: NOW + 10 * MIN }), NOW);
    expect(s).toEqual({ tone: 'ok', text: 'All synced · 5 min ago', detail: 'Next sync in 10 min.', action: null });
    expect(statusSentence(makeStatus({ all_synced: true, last_success_at: NOW + 5_000 }), NOW).text).toBe('All synced · just now');
    expect(statusSentence(makeStatus({ all_synced: true }), NOW).text).toBe('All synced');
  });

  it('never synced offers Sync Now', () => {
    const s = statusSentence(makeStatus(), NOW);
    expect(s.text).toBe('Never synced yet');
    expect(s.tone).toBe('neutral');
    expect(s.action).toEqual({ kind: 'sync', label: 'Sync Now' });
  });

  it('changes waiting offer to send them now', () => {
    const s = statusSentence(makeStatus({ queue_depth: 120, last_success_at: NOW - 2 * MIN }), NOW);
    expect(s.text).toBe('120 changes waiting to be sent');
    expect(s.action).toEqual({ kind: 'sync', label: 'Send now' });
    expect(statusSentence(makeStatus({ queue_depth: 1 }), NOW).text).toBe('1 change waiting to be sent');
    expect(statusSentence(makeStatus({ queue_depth: 1500 }), NOW).text).toBe('1,500 changes waiting to be sent');
  });

  it('synced before but not all synced says when it last synced', () => {
    const s = statusSentence(makeStatus({ last_success_at: NOW - 3 * 60 * MIN }), NOW);
    expect(s.text).toBe('Last synced 3 h ago');
    expect(s.action?.kind).toBe('sync');
  });

  it('records the server refused come first among the quiet states, with Review', () => {
    const s = statusSentence(makeStatus({ dead_letters: 3, queue_depth: 4, all_synced: false }), NOW);
    expect(s).toMatchObject({ tone: 'warn', text: '3 records need your attention', action: { kind: 'review', label: 'Review' } });
    expect(statusSentence(makeStatus({ dead_letters: 1 }), NOW).text).toBe('1 record needs your attention');
  });

  it('offline says the waiting changes are safe, and offers Try again', () => {
    const s = statusSentence(makeStatus({ state: 'offline', problem: 'offline', queue_depth: 120, message: 'connection refused' }), NOW);
    expect(s).toEqual({
      tone: 'warn',
      text: 'Can’t reach the server — your 120 changes are safe and will be sent',
      detail: 'connection refused',
      action: { kind: 'sync', label: 'Try again' },
    });
    expect(statusSentence(makeStatus({ state: 'offline' }), NOW).text).toBe('Can’t reach the server — it will try again by itself');
    // An error whose problem is the network reads the same.
    expect(statusSentence(makeStatus({ state: 'error', problem: 'offline', queue_depth: 1 }), NOW).text).toBe(
      'Can’t reach the server — your change is safe and will be sent',
    );
  });

  it('refused credentials or revoked access send staff to their administrator, via Settings', () => {
    for (const problem of ['auth', 'permission'] as Problem[]) {
      const s = statusSentence(makeStatus({ state: 'error', problem, message: 'the server refused the client secret' }), NOW);
      expect(s).toEqual({
        tone: 'bad',
        text: 'This PC’s access was revoked — ask your administrator',
        detail: 'the server refused the client secret',
        action: { kind: 'settings', label: 'Open Settings' },
      });
    }
  });

  it('keychain, disk, local and refused problems in plain words, with the engine’s message as detail', () => {
    const cases: [Problem | null, string][] = [
      ['keychain', 'This PC can’t read its saved sign-in from the system keychain'],
      ['disk', 'This PC’s disk is full or can’t be written — syncing has stopped'],
      ['local', 'Something went wrong on this PC — syncing has stopped'],
      ['refused', 'The server refused the last sync'],
      [null, 'The last sync didn’t finish'],
    ];
    for (const [problem, text] of cases) {
      const s = statusSentence(makeStatus({ state: 'error', problem, message: 'engine words' }), NOW);
      expect(s).toEqual({ tone: 'bad', text, detail: 'engine words', action: { kind: 'sync', label: 'Try again' } });
    }
    expect(statusSentence(makeStatus({ state: 'error', problem: 'disk' }), NOW).detail).toBeUndefined();
  });

  it('syncing shows how far it is, with no action', () => {
    expect(statusSentence(makeStatus({ state: 'syncing', progress: { sent: 200, total: 500 } }), NOW)).toEqual({
      tone: 'info',
      text: 'Syncing… 200 of 500',
      action: null,
    });
    expect(statusSentence(makeStatus({ state: 'syncing', progress: null }), NOW).text).toBe('Syncing…');
    expect(statusSentence(makeStatus({ state: 'syncing', progress: { sent: 0, total: 0 } }), NOW).text).toBe('Syncing…');
  });

  it('paused says until when, in local time, and offers Resume', () => {
    const until = new Date(NOW);
    until.setHours(15, 0, 0, 0);
    const s = statusSentence(makeStatus({ state: 'paused', paused_until: until.getTime(), queue_depth: 2 }), NOW);
    expect(s).toEqual({
      tone: 'warn',
      text: 'Paused until 15:00',
      detail: '2 changes will be sent when syncing resumes.',
      action: { kind: 'resume', label: 'Resume' },
    });
    expect(statusSentence(makeStatus({ state: 'paused', paused_until: NOW + 2 * 24 * 60 * MIN }), NOW).text).toBe(
      'Paused until 14 Mar 2025, 14:00',
    );
    expect(statusSentence(makeStatus({ state: 'paused' }), NOW).text).toBe('Paused until you resume');
  });

  it('not connected yet sends staff to Settings to set up, whatever the state', () => {
    const s = statusSentence(makeStatus({ enrolled: null, state: 'error', problem: 'auth' }), NOW);
    expect(s).toMatchObject({ tone: 'neutral', text: 'This PC is not connected to a server yet', action: { kind: 'settings', label: 'Set up' } });
  });
});
