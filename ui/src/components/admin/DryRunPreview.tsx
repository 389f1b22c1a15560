import { useState } from 'react';
import type { DryRunView } from '../../apiAdmin';
import { scopeName, type SiteNames } from '../../lib/admin/sites';
import { t } from '../../messages';
import { ErrorBanner } from '../States';
import { Tabs } from '../Tabs';
import { DiffTable } from './DiffTable';

type Format = 'json' | 'xml' | 'ini';

function rendering(view: DryRunView, format: Format): string {
  if (format === 'json') return JSON.stringify(view.renderings.json, null, 2);
  return view.renderings[format];
}

/**
 * What a change would publish, before it is published: the diff of the new version, the
 * settings as a site reads them (JSON / App.config / INI), and "Publish version N".
 */
export function DryRunPreview({
  view,
  names,
  onPublish,
  onDiscard,
  busy,
  error,
}: {
  view: DryRunView;
  names: SiteNames;
  onPublish: () => void;
  onDiscard: () => void;
  busy: boolean;
  error: string | null;
}) {
  const [format, setFormat] = useState<Format>('json');
  return (
    <section className="admin-preview" aria-labelledby="config-preview-title" data-testid="config-preview-panel">
      <h3 id="config-preview-title">{t('admin.config.preview.title', { n: view.version })}</h3>
      <p className="muted">{t('admin.config.preview.note')}</p>
      <DiffTable lines={view.diff} names={names} />
      <p className="muted admin-rendered-for">{t('admin.config.preview.rendered_for', { scope: scopeName(names, view.rendered_for) })}</p>
      <Tabs
        label={t('admin.config.preview.formats')}
        idPrefix="config-preview"
        selected={format}
        onSelect={setFormat}
        tabs={[
          { key: 'json', label: t('admin.config.preview.json'), testId: 'config-preview-json' },
          { key: 'xml', label: t('admin.config.preview.xml'), testId: 'config-preview-xml' },
          { key: 'ini', label: t('admin.config.preview.ini'), testId: 'config-preview-ini' },
        ]}
      />
      <div role="tabpanel" id="config-preview-panel" aria-labelledby={`config-preview-tab-${format}`}>
        <pre data-testid="config-preview" tabIndex={0}>
          {rendering(view, format)}
        </pre>
      </div>
      {error && <ErrorBanner message={error} />}
      <div className="actions">
        <button type="button" className="button-primary" data-testid="config-publish" disabled={busy} onClick={onPublish}>
          {t('admin.config.publish', { n: view.version })}
        </button>
        <button type="button" onClick={onDiscard} data-testid="config-discard">
          {t('admin.config.discard')}
        </button>
      </div>
    </section>
  );
}
