import type { KeyboardEvent } from 'react';
import { hrefFor, useHashScreen, type ScreenName } from './lib/route';
import { Dashboard } from './screens/Dashboard';
import { AuditLog } from './screens/AuditLog';
import { Config } from './screens/Config';
import { Stats } from './screens/Stats';
import { DeadLetters } from './screens/DeadLetters';
import { Settings } from './screens/Settings';

const NAV: { screen: ScreenName; label: string }[] = [
  { screen: 'dashboard', label: 'Dashboard' },
  { screen: 'audit', label: 'Audit log' },
  { screen: 'config', label: 'Config' },
  { screen: 'stats', label: 'Stats' },
  { screen: 'dead-letters', label: 'Dead letters' },
  { screen: 'settings', label: 'Settings' },
];

function Screen({ name }: { name: ScreenName }) {
  switch (name) {
    case 'dashboard':
      return <Dashboard />;
    case 'audit':
      return <AuditLog />;
    case 'config':
      return <Config />;
    case 'stats':
      return <Stats />;
    case 'dead-letters':
      return <DeadLetters />;
    case 'settings':
      return <Settings />;
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

export function App() {
  const screen = useHashScreen();
  return (
    <div className="app">
      <nav className="nav" aria-label="Screens" onKeyDown={onNavKeyDown}>
        <p className="brand">Kendrix Sync</p>
        <ul>
          {NAV.map((item) => (
            <li key={item.screen}>
              <a
                href={hrefFor(item.screen)}
                data-testid={`nav-${item.screen}`}
                aria-current={item.screen === screen ? 'page' : undefined}
              >
                {item.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main className="main">
        <Screen key={screen} name={screen} />
      </main>
    </div>
  );
}
