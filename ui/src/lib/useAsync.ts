import { useCallback, useEffect, useState } from 'react';
import type { CommandError } from '../api';
import { asCommandError } from './errors';

interface Settled<T> {
  load: () => Promise<T>;
  tick: number;
  data: T | undefined;
  error: CommandError | null;
}

export interface AsyncState<T> {
  /** The latest data; kept while a reload is in flight so the screen does not flash. */
  data: T | undefined;
  error: CommandError | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` (memoize it with useCallback) and again whenever it changes or `reload` is
 * called. A result is tagged with the load and tick it answers, so a slow answer to an old
 * query never overwrites a newer one and "loading" needs no extra state.
 */
export function useAsync<T>(load: () => Promise<T>): AsyncState<T> {
  const [tick, setTick] = useState(0);
  const [settled, setSettled] = useState<Settled<T> | null>(null);

  useEffect(() => {
    let live = true;
    load().then(
      (data) => {
        if (live) setSettled({ load, tick, data, error: null });
      },
      (e: unknown) => {
        if (live) setSettled({ load, tick, data: undefined, error: asCommandError(e) });
      },
    );
    return () => {
      live = false;
    };
  }, [load, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const loading = settled === null || settled.load !== load || settled.tick !== tick;
  return {
    data: settled?.data,
    error: loading ? null : (settled?.error ?? null),
    loading,
    reload,
  };
}
