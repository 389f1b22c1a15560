/**
 * Back and forward through a keyset-paged list: the cursors already used lead back, the
 * server's next cursor leads on. `testId` prefixes the buttons' ids (`<id>-back`, `<id>-next`).
 */
export function Pager({
  testId,
  back,
  next,
  canBack,
  canNext,
  busy,
  onBack,
  onNext,
  where,
}: {
  testId: string;
  back: string;
  next: string;
  canBack: boolean;
  canNext: boolean;
  busy: boolean;
  onBack: () => void;
  onNext: () => void;
  /** Where the list is, e.g. "Page 2" or "Sites 101–200". */
  where: string;
}) {
  return (
    <div className="actions" data-testid={`${testId}-pager`}>
      <button type="button" data-testid={`${testId}-back`} disabled={!canBack || busy} onClick={onBack}>
        {back}
      </button>
      <button type="button" data-testid={`${testId}-next`} disabled={!canNext || busy} onClick={onNext}>
        {next}
      </button>
      <span className="muted" data-testid={`${testId}-where`}>
        {where}
      </span>
    </div>
  );
}
