// Small formatting rules shared by the admin screens.

import { t } from '../../messages';

/**
 * The tenant's version number in a site's `<global>.<tenant>` configuration version, named
 * as everywhere else: "Version 3". The full pair stays available as a tooltip.
 */
export function versionName(configVersion: string | null | undefined): string {
  if (!configVersion) return t('admin.common.none');
  const tenant = configVersion.split('.').pop() ?? configVersion;
  return /^\d+$/.test(tenant) ? t('admin.version', { n: tenant }) : configVersion;
}

/** Run outcomes as words (the key per outcome, so the catalog test sees every one). */
const RUN_OUTCOMES: Record<string, string> = {
  synced: 'admin.run.synced',
  partial: 'admin.run.partial',
  offline: 'admin.run.offline',
  auth: 'admin.run.auth',
  error: 'admin.run.error',
};

export function runOutcome(outcome: string): string {
  const key = RUN_OUTCOMES[outcome];
  return key ? t(key) : outcome;
}

/** The pill colour for a run's or batch's outcome. */
export function outcomeTone(outcome: string): string {
  if (outcome === 'synced' || outcome === 'applied' || outcome === 'success') return 'pill-success';
  if (outcome === 'partial') return 'pill-partial';
  if (outcome === 'offline') return '';
  return 'pill-failure';
}

const BATCH_OUTCOMES: Record<string, string> = { applied: 'admin.batch.applied', refused: 'admin.batch.refused' };

export function batchOutcome(outcome: string): string {
  const key = BATCH_OUTCOMES[outcome];
  return key ? t(key) : outcome;
}
