// The contract with the Rust side: command names, argument keys and the status event.
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as api from './api';
import * as admin from './apiAdmin';
import { makeStatus } from './test/fixtures';

afterEach(() => {
  clearMocks();
});

function recordCalls() {
  const calls: [string, unknown][] = [];
  mockIPC((cmd, args) => {
    calls.push([cmd, args]);
    return cmd === 'admin_request' ? { sites: [] } : null;
  });
  return calls;
}

describe('api', () => {
  it('calls each Tauri command by name with camelCase argument keys', async () => {
    const calls = recordCalls();
    const query = { q: 'orders', cursor: 'c2VxOjg', limit: 50 };
    await api.getStatus();
    await api.syncNow();
    await api.pause(60);
    await api.pause(null);
    await api.resume();
    await api.enroll('kendrix1:abc');
    await api.history(20);
    await api.deadLetters();
    await api.retryDeadLetters([1, 2]);
    await api.discardDeadLetters([3]);
    await api.fixDeadLetter(4, '{"a":1}');
    await api.enroll('kendrix1:other', true);
    await api.identities();
    await api.checkConnection();
    await api.adminEnroll('kendrix1:admin');
    await api.adminSignOut();
    await api.saveDiagnostics();
    await api.revealFile('/tmp/a.csv');
    await admin.sites();
    await admin.auditLogs(query);
    await admin.exportAudit(query, 'csv');
    await admin.rotateSecret('kxc_1', 3600);
    await api.getSettings();
    await api.saveSettings({ autostart: true, notifications: false, interval_seconds: null });

    const strip = (args: unknown) => (args && typeof args === 'object' && Object.keys(args).length ? args : {});
    expect(calls.map(([cmd, args]) => [cmd, strip(args)])).toEqual([
      ['status', {}],
      ['sync_now', {}],
      ['pause', { minutes: 60 }],
      ['pause', { minutes: null }],
      ['resume', {}],
      ['enroll', { enrollment: 'kendrix1:abc', replace: false }],
      ['history', { limit: 20 }],
      ['dead_letters', {}],
      ['retry_dead_letters', { ids: [1, 2] }],
      ['discard_dead_letters', { ids: [3] }],
      ['fix_dead_letter', { id: 4, data: '{"a":1}' }],
      ['enroll', { enrollment: 'kendrix1:other', replace: true }],
      ['identities', {}],
      ['check_connection', {}],
      ['admin_enroll', { enrollment: 'kendrix1:admin' }],
      ['admin_sign_out', {}],
      ['save_diagnostics', {}],
      ['reveal_file', { path: '/tmp/a.csv' }],
      ['admin_request', { method: 'GET', path: '/admin/sites', body: null }],
      ['admin_request', { method: 'GET', path: '/audit/logs?q=orders&cursor=c2VxOjg&limit=50', body: null }],
      ['admin_export_audit', { query, format: 'csv' }],
      ['admin_request', { method: 'POST', path: '/admin/sites/kxc_1/rotate-secret', body: { grace_seconds: 3600 } }],
      ['settings', {}],
      ['save_settings', { settings: { autostart: true, notifications: false, interval_seconds: null } }],
    ]);
  });

  it('rejects with the Rust side\'s code and message as they are', async () => {
    mockIPC(() => {
      throw { code: 'offline', message: 'The server cannot be reached.' };
    });
    await expect(api.syncNow()).rejects.toEqual({ code: 'offline', message: 'The server cannot be reached.' });
  });

  it('rejects with the code unknown when the shell itself fails without one', async () => {
    mockIPC(() => {
      throw 'command sync_now not found';
    });
    await expect(api.syncNow()).rejects.toEqual({ code: 'unknown', message: 'command sync_now not found' });
  });

  it('delivers status events until the listener is stopped', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const seen = vi.fn();
    const stop = await api.onStatus(seen);
    const status = makeStatus({ state: 'syncing', progress: { sent: 1, total: 2 } });
    await emit('status', status);
    expect(seen).toHaveBeenCalledWith(status);
    stop();
    await emit('status', makeStatus());
    expect(seen).toHaveBeenCalledTimes(1);
  });
});
