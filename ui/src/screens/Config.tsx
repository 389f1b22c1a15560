import { useCallback, useMemo, useState } from 'react';
import {
  configDiff,
  configEffective,
  configVersions,
  type ConfigDiffLine,
  type ConfigFormat,
  type ConfigVersion,
  type CommandError,
} from '../api';
import { Empty, Loading, ReadError } from '../components/States';
import { Tabs } from '../components/Tabs';
import { effectiveRows, formatConfigValue, groupDiff, isMasked, type EffectiveRow } from '../lib/configDiff';
import { errorMessage } from '../lib/errors';
import { formatAbsolute } from '../lib/time';
import { useAsync } from '../lib/useAsync';

function Lock() {
  return (
    <svg className="lock" width="12" height="14" viewBox="0 0 12 14" role="img" aria-label="secret">
      <title>Secret: the value is masked</title>
      <rect x="1" y="6" width="10" height="8" rx="1.5" fill="currentColor" />
      <path d="M3 6V4a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" strokeWidth="1.6" />
    </svg>
  );
}

function Value({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span className="muted">—</span>;
  return (
    <span className="mono">
      {isMasked(value) && <Lock />}
      {formatConfigValue(value)}
    </span>
  );
}

function EffectiveTable({ rows }: { rows: EffectiveRow[] }) {
  if (rows.length === 0) {
    return <Empty title="No settings yet.">The server has no configuration for this site.</Empty>;
  }
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Key</th>
            <th>Value</th>
            <th>Type</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key} data-testid="config-row">
              <td className="mono">{row.key}</td>
              <td>
                <Value value={row.value} />
              </td>
              <td>{row.type}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Effective() {
  const load = useCallback(() => configEffective('json'), []);
  const effective = useAsync(load);
  const parsed = useMemo(() => {
    if (!effective.data) return null;
    try {
      return { rows: effectiveRows(effective.data.body), error: null };
    } catch (e) {
      const error: CommandError = { code: 'unreadable', message: errorMessage(e) };
      return { rows: [], error };
    }
  }, [effective.data]);

  if (effective.error) {
    return (
      <ReadError error={effective.error} scope="config:read" what="the configuration" onRetry={effective.reload} />
    );
  }
  if (!effective.data || !parsed) return <Loading what="the effective configuration" />;
  return (
    <>
      <p className="muted">
        Version <span className="mono">{effective.data.version}</span> · content hash{' '}
        <span className="mono" title={effective.data.etag}>
          {effective.data.etag.replace(/"/g, '').slice(0, 12)}
        </span>
      </p>
      {parsed.error ? (
        <ReadError error={parsed.error} scope="config:read" what="the configuration" />
      ) : (
        <EffectiveTable rows={parsed.rows} />
      )}
    </>
  );
}

function DiffTable({ lines }: { lines: ConfigDiffLine[] }) {
  if (lines.length === 0) return <Empty title="These two versions hold the same settings." />;
  const groups = groupDiff(lines);
  const ordered = [...groups.added, ...groups.removed, ...groups.changed];
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Change</th>
            <th>Scope</th>
            <th>Key</th>
            <th>Before</th>
            <th>After</th>
          </tr>
        </thead>
        <tbody>
          {ordered.map((line) => (
            <tr key={`${line.change}:${line.scope}:${line.key}`} data-testid="config-diff-row" data-change={line.change}>
              <td>
                <span className={`pill pill-${line.change}`}>{line.change}</span>
              </td>
              <td className="mono">{line.scope}</td>
              <td className="mono">{line.key}</td>
              <td>
                <Value value={line.from} />
              </td>
              <td>
                <Value value={line.to} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function VersionSelect({
  label,
  testId,
  versions,
  value,
  onChange,
}: {
  label: string;
  testId: string;
  versions: ConfigVersion[];
  value: number | null;
  onChange: (v: number) => void;
}) {
  return (
    <label>
      {label}
      <select data-testid={testId} value={value ?? ''} onChange={(e) => onChange(Number(e.target.value))}>
        {versions.map((v) => (
          <option key={v.version} value={v.version}>
            {`v${v.version} — ${formatAbsolute(v.at)}`}
          </option>
        ))}
      </select>
    </label>
  );
}

function Versions() {
  const loadVersions = useCallback(() => configVersions(), []);
  const versions = useAsync(loadVersions);
  const [picked, setPicked] = useState<{ from: number | null; to: number | null }>({ from: null, to: null });
  const list = versions.data ?? [];
  // Until the user picks, compare the newest version with the one before it.
  const from = picked.from ?? list[1]?.version ?? list[0]?.version ?? null;
  const to = picked.to ?? list[0]?.version ?? null;

  const loadDiff = useCallback(
    () => (from !== null && to !== null && from !== to ? configDiff(from, to) : Promise.resolve(null)),
    [from, to],
  );
  const diff = useAsync(loadDiff);

  if (versions.error) {
    return <ReadError error={versions.error} scope="config:read" what="the configuration history" onRetry={versions.reload} />;
  }
  if (!versions.data) return <Loading what="configuration versions" />;
  if (list.length === 0) return <Empty title="No configuration versions yet." />;

  return (
    <>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th className="num">Version</th>
              <th>When</th>
              <th>Author</th>
              <th>Comment</th>
            </tr>
          </thead>
          <tbody>
            {list.map((v) => (
              <tr key={v.version} data-testid="config-version-row">
                <td className="num">v{v.version}</td>
                <td className="mono">{formatAbsolute(v.at)}</td>
                <td>{v.author}</td>
                <td>{v.comment || <span className="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2>Compare versions</h2>
      <div className="filters">
        <VersionSelect
          label="From"
          testId="config-diff-from"
          versions={list}
          value={from}
          onChange={(v) => setPicked((p) => ({ ...p, from: v }))}
        />
        <VersionSelect
          label="To"
          testId="config-diff-to"
          versions={list}
          value={to}
          onChange={(v) => setPicked((p) => ({ ...p, to: v }))}
        />
      </div>
      {from === to ? (
        <p className="muted">Pick two different versions to see what changed.</p>
      ) : diff.error ? (
        <ReadError error={diff.error} scope="config:read" what="the configuration history" onRetry={diff.reload} />
      ) : diff.loading || !diff.data ? (
        <Loading what="the differences" />
      ) : (
        <DiffTable lines={diff.data} />
      )}
    </>
  );
}

function Preview() {
  const [format, setFormat] = useState<ConfigFormat>('json');
  const load = useCallback(() => configEffective(format), [format]);
  const rendered = useAsync(load);
  return (
    <>
      <Tabs
        label="Preview format"
        idPrefix="config-preview"
        selected={format}
        onSelect={setFormat}
        tabs={[
          { key: 'json', label: 'JSON', testId: 'config-preview-json' },
          { key: 'xml', label: 'XML (App.config)', testId: 'config-preview-xml' },
          { key: 'ini', label: 'INI', testId: 'config-preview-ini' },
        ]}
      />
      <div role="tabpanel" id="config-preview-panel" aria-labelledby={`config-preview-tab-${format}`}>
        {rendered.error ? (
          <ReadError error={rendered.error} scope="config:read" what="the configuration" onRetry={rendered.reload} />
        ) : rendered.loading || !rendered.data ? (
          <Loading what={`the ${format.toUpperCase()} rendering`} />
        ) : (
          <pre data-testid="config-preview" tabIndex={0} aria-label={`Configuration as ${format.toUpperCase()}`}>
            {rendered.data.body}
          </pre>
        )}
      </div>
    </>
  );
}

/** The configuration this site runs, its history, and what changed between versions. */
export function Config() {
  return (
    <section className="screen" data-testid="screen-config" aria-labelledby="config-title">
      <h1 id="config-title">Config</h1>
      <h2>Effective configuration</h2>
      <Effective />
      <h2>Versions</h2>
      <Versions />
      <h2>Preview</h2>
      <Preview />
    </section>
  );
}
