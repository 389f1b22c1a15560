import { useEffect, useId, useRef, type ReactNode } from 'react';

/**
 * A modal dialog: focus moves into it, Escape closes it, focus returns to where it was.
 * The backdrop covers the screen; the panel scrolls inside itself, never the page.
 */
export function Dialog({
  title,
  onClose,
  children,
  testId,
  footer,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  testId?: string;
  footer?: ReactNode;
}) {
  const titleId = useId();
  const panel = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = panel.current?.querySelector<HTMLElement>('input, select, textarea, button:not([data-close])');
    (first ?? panel.current)?.focus();
    return () => before?.focus?.();
  }, []);

  return (
    <div className="admin-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        ref={panel}
        className="admin-dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        data-testid={testId}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.stopPropagation();
            onClose();
          }
        }}
      >
        <h2 id={titleId} className="admin-dialog-title">
          {title}
        </h2>
        <div className="admin-dialog-body">{children}</div>
        {footer && <div className="admin-dialog-footer">{footer}</div>}
      </div>
    </div>
  );
}
