// Site names where ids appeared: a lookup built from sites(), with the id as fallback.

import { useCallback, useMemo } from 'react';
import { identities } from '../../api';
import { sites, type SiteSummary } from '../../apiAdmin';
import { t } from '../../messages';
import { useAsync } from '../useAsync';

export type SiteNames = ReadonlyMap<string, string>;

export function siteNames(list: SiteSummary[] | undefined): SiteNames {
  return new Map((list ?? []).map((s) => [s.client_id, s.name]));
}

/** The site's name, or its id when the fleet does not know it (e.g. a deleted client). */
export function nameOf(names: SiteNames, clientId: string | null): string {
  if (!clientId) return t('admin.common.none');
  return names.get(clientId) ?? clientId;
}

/** "Global", "This tenant" or the site's name for a configuration scope (`client:<id>`). */
export function scopeName(names: SiteNames, scope: string): string {
  if (scope === 'global') return t('admin.scope.global');
  if (scope === 'tenant') return t('admin.scope.tenant');
  if (scope.startsWith('client:')) return nameOf(names, scope.slice('client:'.length));
  return scope;
}

/** The fleet, loaded once per screen, for names; a failure leaves ids showing. */
export function useSites() {
  const load = useCallback(() => sites(), []);
  const state = useAsync(load);
  // The fleet lists sites only: the admin signed in here is named from this PC's identity.
  const whoLoad = useCallback(() => identities(), []);
  const who = useAsync(whoLoad);
  const names = useMemo(() => {
    const map = new Map(siteNames(state.data));
    const admin = who.data?.admin;
    if (admin?.name) map.set(admin.client_id, admin.name);
    return map as SiteNames;
  }, [state.data, who.data]);
  return { ...state, names };
}
