import type { ReactNode } from 'react';
import { t } from '../../messages';

/** Active / Revoked. */
export function StatusPill({ status, testId }: { status: string; testId?: string }) {
  const active = status === 'active';
  return (
    <span className={`pill ${active ? 'pill-success' : 'pill-failure'}`} data-testid={testId}>
      {active ? t('admin.status.active') : t('admin.status.revoked')}
    </span>
  );
}

/** Success / Failure with a mark that does not rely on colour alone. */
export function OutcomePill({ outcome }: { outcome: string }) {
  const ok = outcome === 'success';
  return (
    <span className={`pill ${ok ? 'pill-success' : 'pill-failure'}`}>
      <span aria-hidden="true">{ok ? '✓ ' : '✕ '}</span>
      {ok ? t('admin.outcome.success') : t('admin.outcome.failure')}
    </span>
  );
}

export function Chip({ children, tone = 'warn', title }: { children: ReactNode; tone?: 'warn' | 'bad' | 'info'; title?: string }) {
  return (
    <span className={`admin-chip admin-chip-${tone}`} title={title}>
      {children}
    </span>
  );
}

/** A toggle chip for filters (aria-pressed). */
export function FilterChip({
  pressed,
  onToggle,
  children,
  testId,
}: {
  pressed: boolean;
  onToggle: () => void;
  children: ReactNode;
  testId?: string;
}) {
  return (
    <button
      type="button"
      className={pressed ? 'admin-filter-chip admin-filter-chip-on' : 'admin-filter-chip'}
      aria-pressed={pressed}
      data-testid={testId}
      onClick={onToggle}
    >
      {children}
    </button>
  );
}
