import { useCallback, useEffect, useMemo, useState, type FormEvent } from 'react';
import { auditExport, auditLogs, history, type AuditOutcome, type AuditQuery } from '../api';
import { Empty, ErrorBanner, Loading } from '../components/States';
import { Tabs } from '../components/Tabs';
import { fileFromText, formatBytes, startDownload, type SavedFile } from '../lib/download';
import { errorMessage, lacksPermission } from '../lib/errors';
import { outcomeLabel } from '../lib/labels';
import { formatAbsolute, formatDuration, parseLocalDateTime } from '../lib/time';
import { useAsync } from '../lib/useAsync';

/** The server's audit events (docs/audit-events.md), offered as suggestions in the filter. */
const EVENTS = [
  'sync.batch.applied',
  'sync.batch.refused',
  'token.issued',
  'token.refreshed',
  'token.refresh_reuse',
  'token.denied',
  'token.revoked',
  'token.introspected',
  'auth.client.failure',
  'auth.bearer.failure',
  'idempotency.hit',
  'idempotency.mismatch',
  'idempotency.in_flight',
  'config.changed',
  'config.secret_read',
  'config.key_rotated',
  'client.registered',
  'client.revoked',
  'tenant.created',
  'rate_limit.exceeded',
  'audit.read',
  'audit.exported',
  'audit.verified',
  'audit.pruned',
];

const PAGE_SIZE = 50;

interface FilterForm {
  since: string;
  until: string;
  event: string;
  client_id: string;
  outcome: '' | AuditOutcome;
  q: string;
}

const NO_FILTER: FilterForm = { since: '', until: '', event: '', client_id: '', outcome: '', q: '' };

/** The server's filter from the form: empty fields do not filter. */
export function queryFromForm(form: FilterForm): AuditQuery {
  const query: AuditQuery = {};
  const since = parseLocalDateTime(form.since);
  const until = parseLocalDateTime(form.until);
  if (since !== null) query.since = since;
  if (until !== null) query.until = until;
  if (form.event.trim()) query.event = form.event.trim();
  if (form.client_id.trim()) query.client_id = form.client_id.trim();
  if (form.outcome) query.outcome = form.outcome;
  if (form.q.trim()) query.q = form.q.trim();
  return query;
}

function compactDetails(details: unknown): string {
  if (details === null || details === undefined) return '';
  return JSON.stringify(details);
}

function ServerAudit() {
  const [form, setForm] = useState<FilterForm>(NO_FILTER);
  const [filter, setFilter] = useState<AuditQuery>({});
  // Keyset paging only goes to older pages; the cursors already used lead back to newer ones.
  const [cursors, setCursors] = useState<string[]>([]);
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);
  const [file, setFile] = useState<SavedFile | null>(null);

  const cursor = cursors.length ? cursors[cursors.length - 1] : null;
  const query = useMemo<AuditQuery>(
    () => ({ ...filter, cursor, limit: PAGE_SIZE }),
    [filter, cursor],
  );
  const load = useCallback(() => auditLogs(query), [query]);
  const page = useAsync(load);

  useEffect(() => {
    if (!file) return;
    return () => URL.revokeObjectURL(file.url);
  }, [file]);

  const set = <K extends keyof FilterForm>(key: K, value: FilterForm[K]) =>
    setForm((f) => ({ ...f, [key]: value }));

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilter(queryFromForm(form));
    setCursors([]);
  };

  const clear = () => {
    setForm(NO_FILTER);
    setFilter({});
    setCursors([]);
  };

  const exportAs = async (format: 'csv' | 'ndjson') => {
    setExporting(true);
    setExportError(null);
    try {
      const text = await auditExport(filter, format);
      const type = format === 'csv' ? 'text/csv' : 'application/x-ndjson';
      const stamp = formatAbsolute(Date.now()).replace(/[: ]/g, '-');
      const saved = fileFromText(text, `kendrix-audit-${stamp}.${format}`, type);
      setFile(saved);
      startDownload(saved);
    } catch (e) {
      setExportError(errorMessage(e));
    } finally {
      setExporting(false);
    }
  };

  if (page.error && lacksPermission(page.error)) {
    return (
      <Empty title="This site may not read the server's audit log.">
        The server refused the request because this computer's client lacks the{' '}
        <code>audit:read</code> permission. An admin can grant it when registering the client; the
        Local history tab shows this computer's own sync runs meanwhile.
      </Empty>
    );
  }

  const entries = page.data?.entries ?? [];
  const next = page.data?.next ?? null;

  return (
    <>
      <form className="filters" onSubmit={apply} aria-label="Filter the audit log">
        <label>
          From
          <input type="datetime-local" value={form.since} onChange={(e) => set('since', e.target.value)} />
        </label>
        <label>
          Until
          <input type="datetime-local" value={form.until} onChange={(e) => set('until', e.target.value)} />
        </label>
        <label>
          Event type
          <input
            list="audit-events"
            value={form.event}
            placeholder="any"
            onChange={(e) => set('event', e.target.value)}
          />
          <datalist id="audit-events">
            {EVENTS.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        <label>
          Client
          <input value={form.client_id} placeholder="any" onChange={(e) => set('client_id', e.target.value)} />
        </label>
        <label>
          Outcome
          <select value={form.outcome} onChange={(e) => set('outcome', e.target.value as FilterForm['outcome'])}>
            <option value="">any</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
          </select>
        </label>
        <label>
          Search
          <input
            type="search"
            data-testid="audit-search"
            value={form.q}
            placeholder="words in the event or details"
            onChange={(e) => set('q', e.target.value)}
          />
        </label>
        <button type="submit" className="button-primary">
          Apply
        </button>
        <button type="button" onClick={clear}>
          Clear
        </button>
      </form>

      <div className="actions">
        <button type="button" disabled={exporting} onClick={() => void exportAs('csv')}>
          Export CSV
        </button>
        <button type="button" disabled={exporting} onClick={() => void exportAs('ndjson')}>
          Export NDJSON
        </button>
        {exporting && <span className="muted">Exporting…</span>}
        {file && !exporting && (
          <a href={file.url} download={file.name} data-testid="audit-export-link">
            Save {file.name} ({formatBytes(file.bytes)})
          </a>
        )}
      </div>
      {exportError && <ErrorBanner message={exportError} />}
      {page.error && <ErrorBanner message={page.error.message} onRetry={page.reload} />}

      {page.loading && !page.data ? (
        <Loading what="audit entries" />
      ) : entries.length === 0 && !page.error ? (
        <Empty title="No audit entries match.">Widen the time range or clear the filters.</Empty>
      ) : (
        <div className="table-wrap" aria-busy={page.loading}>
          <table>
            <thead>
              <tr>
                <th>Time</th>
                <th>Event</th>
                <th>Outcome</th>
                <th>Client</th>
                <th>Source</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.seq} data-testid="audit-row">
                  <td className="mono">{formatAbsolute(entry.at)}</td>
                  <td className="mono">{entry.event}</td>
                  <td>
                    <span className={`pill pill-${entry.outcome}`}>{entry.outcome}</span>
                  </td>
                  <td>{entry.client_id ?? '—'}</td>
                  <td className="mono">{entry.source ?? '—'}</td>
                  <td className="mono details" title={compactDetails(entry.details)}>
                    {compactDetails(entry.details)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <div className="actions">
        <button
          type="button"
          data-testid="audit-newer"
          disabled={cursors.length === 0 || page.loading}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          ← Newer
        </button>
        <button
          type="button"
          data-testid="audit-next"
          disabled={!next || page.loading}
          onClick={() => next && setCursors((c) => [...c, next])}
        >
          Older →
        </button>
        <span className="muted">Page {cursors.length + 1}</span>
      </div>
    </>
  );
}

function LocalHistory() {
  const load = useCallback(() => history(100), []);
  const runs = useAsync(load);
  if (runs.error) return <ErrorBanner message={runs.error.message} onRetry={runs.reload} />;
  if (!runs.data) return <Loading what="local sync history" />;
  if (runs.data.length === 0) {
    return <Empty title="No sync runs yet.">Each sync this computer makes is listed here.</Empty>;
  }
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Started</th>
            <th>Trigger</th>
            <th>Outcome</th>
            <th className="num">Took</th>
            <th className="num">Batches</th>
            <th className="num">Sent</th>
            <th className="num">Applied</th>
            <th className="num">Duplicate</th>
            <th className="num">Stale</th>
            <th className="num">Rejected</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {runs.data.map((run) => (
            <tr key={run.id} data-testid="history-row">
              <td className="mono">{formatAbsolute(run.started_at)}</td>
              <td>{run.trigger === 'manual' ? 'Sync Now' : 'Schedule'}</td>
              <td>
                <span className={`pill pill-${run.outcome ?? 'running'}`}>{outcomeLabel(run)}</span>
              </td>
              <td className="num">
                {run.finished_at === null ? '—' : formatDuration(run.finished_at - run.started_at)}
              </td>
              <td className="num">{run.batches}</td>
              <td className="num">{run.sent}</td>
              <td className="num">{run.applied}</td>
              <td className="num">{run.duplicate}</td>
              <td className="num">{run.stale}</td>
              <td className="num">{run.rejected}</td>
              <td>{run.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type AuditTab = 'server' | 'local';

/** Admins' view of what happened: the server's audit log and this computer's sync runs. */
export function AuditLog() {
  const [tab, setTab] = useState<AuditTab>('server');
  return (
    <section className="screen" data-testid="screen-audit" aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <Tabs
        label="Audit sources"
        idPrefix="audit"
        selected={tab}
        onSelect={setTab}
        tabs={[
          { key: 'server', label: 'Server audit', testId: 'audit-tab-server' },
          { key: 'local', label: 'Local history', testId: 'audit-tab-local' },
        ]}
      />
      <div role="tabpanel" id="audit-panel" aria-labelledby={`audit-tab-${tab}`}>
        {tab === 'server' ? <ServerAudit /> : <LocalHistory />}
      </div>
    </section>
  );
}
