import { useCallback, useEffect, useState } from 'react';
import { getStatus, onStatus, type CommandError, type Status } from '../../../api';
import { asCommandError } from '../../../lib/errors';

/** The agent's status, read once and then followed through `status` events. */
export function useLiveStatus() {
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<CommandError | null>(null);

  const accept = useCallback((next: Status) => {
    setStatus(next);
    setError(null);
  }, []);

  const refresh = useCallback(
    () => getStatus().then(accept, (e: unknown) => setError(asCommandError(e))),
    [accept],
  );

  useEffect(() => {
    let live = true;
    let heardEvent = false;
    let unlisten: (() => void) | null = null;
    getStatus().then(
      (s) => {
        // An event may already have brought a newer status.
        if (live && !heardEvent) accept(s);
      },
      (e: unknown) => {
        if (live) setError(asCommandError(e));
      },
    );
    onStatus((s) => {
      if (!live) return;
      heardEvent = true;
      accept(s);
    }).then(
      (stop) => {
        if (live) unlisten = stop;
        else stop();
      },
      () => {
        // Without events the screen still shows what it read and refreshes after actions.
      },
    );
    return () => {
      live = false;
      unlisten?.();
    };
  }, [accept]);

  return { status, error, refresh };
}
