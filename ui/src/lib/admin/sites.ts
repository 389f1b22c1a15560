// Site names where ids appeared: a lookup built from siteNames(), with the id as fallback.

import { useCallback, useMemo } from 'react';
import { siteNames, type SiteName } from '../../apiAdmin';
import { t } from '../../messages';
import { useAsync } from '../useAsync';

export type SiteNames = ReadonlyMap<string, string>;

export function namesOf(list: SiteName[] | undefined): SiteNames {
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

/** The tenant's clients (sites and admins), loaded once per screen, for names; a failure leaves ids showing. */
export function useSites() {
  const load = useCallback(() => siteNames(), []);
  const state = useAsync(load);
  const names = useMemo(() => namesOf(state.data), [state.data]);
  return { ...state, names };
}
