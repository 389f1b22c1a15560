import { useEffect, useState } from 'react';

export const SCREENS = ['dashboard', 'audit', 'config', 'stats', 'dead-letters', 'settings'] as const;
export type ScreenName = (typeof SCREENS)[number];

/** The screen named by a location hash such as `#/audit`; the dashboard for anything else. */
export function screenFromHash(hash: string): ScreenName {
  const name = hash.replace(/^#\/?/, '');
  return (SCREENS as readonly string[]).includes(name) ? (name as ScreenName) : 'dashboard';
}

export function hrefFor(screen: ScreenName): string {
  return `#/${screen}`;
}

/** The screen in the location hash, following back/forward and link clicks. */
export function useHashScreen(): ScreenName {
  const [screen, setScreen] = useState(() => screenFromHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setScreen(screenFromHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return screen;
}
