import { useCallback, useEffect, useState, type KeyboardEvent } from 'react';
import { getStatus, identities, onNavigate, onStatus, type Identities, type Status } from './api';
import { hrefFor, isAdminScreen, navigate, routeFromHash, useRoute, type Route, type ScreenName } from './lib/route';
import { t } from './messages';
import { Status as StatusScreen } from './screens/staff/Status';
import { Attention } from './screens/staff/Attention';
import { History } from './screens/staff/History';
import { Settings } from './screens/staff/Settings';
import { Sites } from './screens/admin/Sites';
import { Site } from './screens/admin/Site';
import { Config } from './screens/admin/Config';
import { Alerts } from './screens/admin/Alerts';
import { Audit } from './screens/admin/Audit';
import { Stats } from './screens/admin/Stats';

/** Who may see what: staff screens need the site identity (Settings always shows, it enrolls); admin screens the admin's. */
function screensFor(who: Identities): { staff: ScreenName[]; admin: ScreenName[] } {
  // A PC with no identity yet opens on Status, which says so and leads to Settings.
  const staff: ScreenName[] = who.site
    ? ['status', 'attention', 'history', 'settings']
    : who.admin
      ? ['settings']
      : ['status', 'settings'];
  const admin: ScreenName[] = who.admin ? ['sites', 'alerts', 'config', 'audit', 'stats'] : [];
  return { staff, admin };
}

function Screen({ route, who, onIdentityChange }: { route: Route; who: Identities; onIdentityChange: () => void }) {
  switch (route.screen) {
    case 'status':
      return <StatusScreen />;
    case 'attention':
      return <Attention />;
    case 'history':
      return <History />;
    case 'settings':
      return <Settings identities={who} onIdentityChange={onIdentityChange} />;
    case 'sites':
      return <Sites />;
    case 'site':
      return <Site clientId={route.param ?? ''} />;
    case 'alerts':
      return <Alerts />;
    case 'config':
      return <Config />;
    case 'audit':
      return <Audit />;
    case 'stats':
      return <Stats />;
  }
}

/** Up and down arrows move between the nav links; Tab and Enter work as usual. */
function onNavKeyDown(e: KeyboardEvent<HTMLElement>) {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const links = Array.from(e.currentTarget.querySelectorAll<HTMLAnchorElement>('a'));
  const index = links.indexOf(document.activeElement as HTMLAnchorElement);
  const step = e.key === 'ArrowDown' ? 1 : -1;
  const next = links[(index + step + links.length) % links.length];
  e.preventDefault();
  next?.focus();
}

function NavLink({ screen, current, badge }: { screen: ScreenName; current: ScreenName; badge?: number }) {
  const active = screen === current || (screen === 'sites' && current === 'site');
  return (
    <li>
      <a href={hrefFor(screen)} data-testid={`nav-${screen}`} aria-current={active ? 'page' : undefined}>
        <span className="nav-label">{t(`nav.${screen}`)}</span>
        {badge ? (
          <span className="badge" data-testid={`nav-${screen}-badge`} aria-label={t('nav.badge', { n: badge })}>
            {badge}
          </span>
        ) : null}
      </a>
    </li>
  );
}

export function App() {
  const route = useRoute();
  const [who, setWho] = useState<Identities | null>(null);
  const [status, setStatus] = useState<Status | null>(null);

  const reloadIdentities = useCallback(() => {
    identities()
      .then(setWho)
      .catch(() => setWho({ site: null, admin: null }));
  }, []);

  useEffect(() => {
    reloadIdentities();
    let stop: (() => void) | undefined;
    let stopNav: (() => void) | undefined;
    getStatus().then(setStatus).catch(() => undefined);
    onStatus(setStatus).then((s) => (stop = s));
    // The tray and notification clicks name the screen they are about.
    onNavigate((target) => {
      const next = routeFromHash(`#/${target}`);
      navigate(next.screen, next.param);
    }).then((s) => (stopNav = s));
    return () => {
      stop?.();
      stopNav?.();
    };
  }, [reloadIdentities]);

  // An enrollment or sign-out elsewhere (the status event carries the site's).
  const enrolledId = status?.enrolled?.client_id ?? null;
  useEffect(() => {
    if (who && (who.site?.client_id ?? null) !== enrolledId) reloadIdentities();
  }, [enrolledId, who, reloadIdentities]);

  if (!who) return null;
  const { staff, admin } = screensFor(who);
  const visible = [...staff, ...admin, ...(admin.length ? (['site'] as ScreenName[]) : [])];
  // A screen this identity cannot read is not offered: go to the first one it can.
  const home: ScreenName = who.site || !who.admin ? 'status' : admin[0];
  const shown: Route = visible.includes(route.screen) ? route : { screen: home, param: null };
  const mode = isAdminScreen(shown.screen) ? 'admin' : 'staff';
  return (
    <div className="app" data-mode={mode}>
      <nav className="nav" aria-label={t('nav.label')} onKeyDown={onNavKeyDown}>
        <div className="brand">
          <p className="brand-name">{t('app.name')}</p>
          {who.site && (
            <p className="brand-site" data-testid="nav-site-name" title={who.site.tenant ?? undefined}>
              {who.site.name ?? who.site.client_id}
            </p>
          )}
        </div>
        {admin.length > 0 && <p className="nav-section">{t('nav.mode.staff')}</p>}
        <ul>
          {staff.map((screen) => (
            <NavLink
              key={screen}
              screen={screen}
              current={shown.screen}
              badge={screen === 'attention' ? (status?.dead_letters ?? 0) : undefined}
            />
          ))}
        </ul>
        {admin.length > 0 && (
          <>
            <p className="nav-section">{t('nav.mode.admin')}</p>
            <ul>
              {admin.map((screen) => (
                <NavLink key={screen} screen={screen} current={shown.screen} />
              ))}
            </ul>
          </>
        )}
      </nav>
      <main className="main">
        <Screen key={`${shown.screen}/${shown.param ?? ''}`} route={shown} who={who} onIdentityChange={reloadIdentities} />
      </main>
    </div>
  );
}
