import { useCallback, useState, type FormEvent } from 'react';
import { enroll, getSettings, getStatus, saveSettings, type AppSettings, type Enrolled } from '../api';
import { ErrorBanner, Loading } from '../components/States';
import { errorMessage } from '../lib/errors';
import { applyTheme, loadTheme, type ThemeChoice } from '../lib/theme';
import { useAsync } from '../lib/useAsync';

/**
 * Paste-once enrollment. The pasted string holds the client secret: it lives only in the
 * input until it is sent, is cleared afterwards, and nothing that comes back contains it.
 */
function Enrollment() {
  const load = useCallback(() => getStatus(), []);
  const status = useAsync(load);
  const [enrolledNow, setEnrolledNow] = useState<Enrolled | null>(null);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const enrolled = enrolledNow ?? status.data?.enrolled ?? null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await enroll(text.trim());
      setEnrolledNow(s.enrolled);
      setText('');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <fieldset>
      <legend>Enrollment</legend>
      {status.error && <ErrorBanner message={status.error.message} onRetry={status.reload} />}
      {status.loading && !status.data ? (
        <Loading what="the enrollment" />
      ) : enrolled ? (
        <dl className="figures">
          <div>
            <dt>Server</dt>
            <dd className="mono" data-testid="enrolled-server">
              {enrolled.server}
            </dd>
          </div>
          <div>
            <dt>Client id</dt>
            <dd className="mono" data-testid="enrolled-client">
              {enrolled.client_id}
            </dd>
          </div>
        </dl>
      ) : (
        !status.error && <p>This computer is not enrolled yet.</p>
      )}
      <form className="stack" onSubmit={submit}>
        <label htmlFor="enroll-input">
          {enrolled ? 'Enroll again with a new string (replaces the current enrollment)' : 'Enrollment string from your admin'}
        </label>
        <input
          id="enroll-input"
          type="password"
          data-testid="enroll-input"
          autoComplete="off"
          spellCheck={false}
          placeholder="kendrix1:…"
          size={48}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <p className="muted">
          Paste the whole <span className="mono">kendrix1:</span> line once. The secret in it goes
          to this computer's keychain and is never shown again.
        </p>
        <button type="submit" className="button-primary" data-testid="enroll-submit" disabled={!text.trim() || busy}>
          {busy ? 'Enrolling…' : 'Enroll'}
        </button>
      </form>
      {error && <ErrorBanner message={error} />}
      {enrolledNow && (
        <div className="banner banner-ok" role="status">
          Enrolled. The first sync starts on schedule, or use Sync Now on the dashboard.
        </div>
      )}
    </fieldset>
  );
}

/** A whole number of seconds, at least 1, or null when the text is not one. */
export function parseInterval(text: string): number | null {
  if (!/^\s*\d+\s*$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 ? n : null;
}

function AgentSettings({ initial }: { initial: AppSettings }) {
  const [useServer, setUseServer] = useState(initial.interval_seconds === null);
  const [interval, setIntervalText] = useState(String(initial.interval_seconds ?? 300));
  const [autostart, setAutostart] = useState(initial.autostart);
  const [notifications, setNotifications] = useState(initial.notifications);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const seconds = parseInterval(interval);
  const valid = useServer || seconds !== null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!valid) return;
    const next: AppSettings = { autostart, notifications, interval_seconds: useServer ? null : seconds };
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await saveSettings(next);
      setSaved(true);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit}>
      <fieldset>
        <legend>Schedule</legend>
        <div className="stack">
          <label className="check">
            <input type="radio" name="schedule" checked={useServer} onChange={() => setUseServer(true)} />
            Use the server's interval
          </label>
          <label className="check">
            <input type="radio" name="schedule" checked={!useServer} onChange={() => setUseServer(false)} />
            Sync every
            <input
              type="number"
              min={1}
              step={1}
              aria-label="Interval in seconds"
              data-testid="interval-seconds"
              disabled={useServer}
              value={interval}
              aria-invalid={!useServer && seconds === null}
              onChange={(e) => setIntervalText(e.target.value)}
              style={{ width: '7em' }}
            />
            seconds
          </label>
          {!valid && <p className="field-error">The interval is a whole number of seconds, 1 or more.</p>}
        </div>
      </fieldset>
      <fieldset>
        <legend>Desktop</legend>
        <div className="stack">
          <label className="check">
            <input type="checkbox" data-testid="autostart" checked={autostart} onChange={(e) => setAutostart(e.target.checked)} />
            Start with the computer (hidden in the tray)
          </label>
          <label className="check">
            <input
              type="checkbox"
              data-testid="notifications"
              checked={notifications}
              onChange={(e) => setNotifications(e.target.checked)}
            />
            Notify me of failures, recoveries and refused records
          </label>
        </div>
      </fieldset>
      <div className="actions">
        <button type="submit" className="button-primary" data-testid="settings-save" disabled={!valid || busy}>
          Save settings
        </button>
        {saved && (
          <span role="status" className="muted">
            Saved.
          </span>
        )}
      </div>
      {error && <ErrorBanner message={error} />}
    </form>
  );
}

function Theme() {
  const [theme, setTheme] = useState<ThemeChoice>(loadTheme);
  const choose = (choice: ThemeChoice) => {
    setTheme(choice);
    applyTheme(choice);
  };
  const options: { value: ThemeChoice; label: string }[] = [
    { value: 'system', label: 'Follow the system' },
    { value: 'light', label: 'Light' },
    { value: 'dark', label: 'Dark' },
  ];
  return (
    <fieldset>
      <legend>Theme</legend>
      <div className="stack">
        {options.map((o) => (
          <label key={o.value} className="check">
            <input
              type="radio"
              name="theme"
              data-testid={`theme-${o.value}`}
              checked={theme === o.value}
              onChange={() => choose(o.value)}
            />
            {o.label}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** Enrollment, the sync schedule, desktop behaviour and the theme. */
export function Settings() {
  const load = useCallback(() => getSettings(), []);
  const settings = useAsync(load);
  return (
    <section className="screen" data-testid="screen-settings" aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <Enrollment />
      {settings.error ? (
        <ErrorBanner message={settings.error.message} onRetry={settings.reload} />
      ) : !settings.data ? (
        <Loading what="settings" />
      ) : (
        <AgentSettings initial={settings.data} />
      )}
      <Theme />
    </section>
  );
}
