import { useEffect, useId, useRef, type ReactNode } from 'react';
import { t } from '../../messages';

/** A side panel fixed to the right edge: always in view, scrolling inside itself; Escape closes it. */
export function Drawer({ title, onClose, children, testId }: { title: string; onClose: () => void; children: ReactNode; testId?: string }) {
  const titleId = useId();
  const panel = useRef<HTMLElement>(null);
  // Focus moves in when it opens and back where it was (the row) when it closes.
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    panel.current?.focus();
    return () => before?.focus?.();
  }, []);
  return (
    <aside
      ref={panel}
      className="admin-drawer"
      role="dialog"
      aria-labelledby={titleId}
      tabIndex={-1}
      data-testid={testId}
      onKeyDown={(e) => e.key === 'Escape' && onClose()}
    >
      <header className="admin-drawer-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="button-small" data-close onClick={onClose} data-testid="drawer-close">
          {t('admin.common.close')}
        </button>
      </header>
      <div className="admin-drawer-body">{children}</div>
    </aside>
  );
}
