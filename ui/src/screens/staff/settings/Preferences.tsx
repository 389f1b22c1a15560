import { useState } from 'react';
import { saveSettings, type AppSettings } from '../../../api';
import { ErrorBanner } from '../../../components/States';
import { asCommandError } from '../../../lib/errors';
import { applyTheme, loadTheme, type ThemeChoice } from '../../../lib/theme';
import { t } from '../../../messages';

const PRESETS = [5, 15, 30, 60];

/** "" is the server's default; otherwise the interval in seconds. */
function intervalOptions(current: number | null): { value: string; label: string }[] {
  const options = [
    { value: '', label: t('settings.interval.server') },
    ...PRESETS.map((m) => ({ value: String(m * 60), label: t('settings.interval.minutes', { n: m }) })),
  ];
  // An interval set another way (the command line) stays choosable as it is.
  if (current !== null && !PRESETS.some((m) => m * 60 === current)) {
    const label = current % 60 === 0 ? t('settings.interval.minutes', { n: current / 60 }) : t('settings.interval.seconds', { n: current });
    options.push({ value: String(current), label });
  }
  return options;
}

/** The sync interval, start with the PC, notifications, theme: each saved as soon as it changes. */
export function Preferences({ initial }: { initial: AppSettings }) {
  const [settings, setSettings] = useState(initial);
  const [theme, setTheme] = useState<ThemeChoice>(loadTheme);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const save = async (next: AppSettings) => {
    const before = settings;
    setSettings(next);
    setSaved(false);
    setError(null);
    try {
      await saveSettings(next);
      setSaved(true);
    } catch (e) {
      setSettings(before);
      setError(asCommandError(e).message);
    }
  };

  return (
    <section className="card" aria-labelledby="sync-title">
      <h2 id="sync-title">{t('settings.sync.title')}</h2>
      <div className="form-grid">
        <label htmlFor="sync-interval">{t('settings.interval')}</label>
        <select
          id="sync-interval"
          data-testid="sync-interval"
          value={settings.interval_seconds === null ? '' : String(settings.interval_seconds)}
          onChange={(e) => void save({ ...settings, interval_seconds: e.target.value === '' ? null : Number(e.target.value) })}
        >
          {intervalOptions(initial.interval_seconds).map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
        <label htmlFor="theme">{t('settings.theme')}</label>
        <select
          id="theme"
          data-testid="theme"
          value={theme}
          onChange={(e) => {
            const choice = e.target.value as ThemeChoice;
            setTheme(choice);
            applyTheme(choice);
          }}
        >
          <option value="system">{t('settings.theme.system')}</option>
          <option value="light">{t('settings.theme.light')}</option>
          <option value="dark">{t('settings.theme.dark')}</option>
        </select>
      </div>
      <div className="stack">
        <label className="check">
          <input type="checkbox" data-testid="autostart" checked={settings.autostart} onChange={(e) => void save({ ...settings, autostart: e.target.checked })} />
          {t('settings.autostart')}
        </label>
        <label className="check">
          <input
            type="checkbox"
            data-testid="notifications"
            checked={settings.notifications}
            onChange={(e) => void save({ ...settings, notifications: e.target.checked })}
          />
          {t('settings.notifications')}
        </label>
      </div>
      <p className="muted field-hint" role="status" data-testid="settings-saved">
        {saved ? t('settings.saved') : ''}
      </p>
      {error && <ErrorBanner message={error} />}
    </section>
  );
}
