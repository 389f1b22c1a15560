import { useEffect, useState } from 'react';

/** Staff mode: what site staff need. */
export const STAFF_SCREENS = ['status', 'attention', 'history', 'settings'] as const;
/** Admin mode: shown only while an admin credential is signed in. `site` takes a client id. */
export const ADMIN_SCREENS = ['sites', 'site', 'alerts', 'config', 'audit', 'stats'] as const;

export type StaffScreen = (typeof STAFF_SCREENS)[number];
export type AdminScreen = (typeof ADMIN_SCREENS)[number];
export type ScreenName = StaffScreen | AdminScreen;

/** A screen and its one parameter (`#/site/kxc_123` → site, "kxc_123"). */
export interface Route { screen: ScreenName; param: string | null }

const ALL: readonly string[] = [...STAFF_SCREENS, ...ADMIN_SCREENS];

export function isAdminScreen(screen: ScreenName): screen is AdminScreen {
  return (ADMIN_SCREENS as readonly string[]).includes(screen);
}

/** The route named by a location hash such as `#/audit`; Status for anything else. */
export function routeFromHash(hash: string): Route {
  const [name, ...rest] = hash.replace(/^#\/?/, '').split('/');
  if (!ALL.includes(name)) return { screen: 'status', param: null };
  const param = rest.length ? decodeURIComponent(rest.join('/')) : null;
  return { screen: name as ScreenName, param };
}

export function hrefFor(screen: ScreenName, param?: string | null): string {
  return param ? `#/${screen}/${encodeURIComponent(param)}` : `#/${screen}`;
}

/** Goes to a screen (as a link click would). */
export function navigate(screen: ScreenName, param?: string | null): void {
  window.location.hash = hrefFor(screen, param);
}

/** The route in the location hash, following back/forward and link clicks. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => routeFromHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(routeFromHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
