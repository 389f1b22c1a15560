import { useEffect, useRef, useState } from 'react';
import {
  rollback,
  setEntry,
  unsetEntry,
  type ConfigVersion,
  type DryRunView,
  type SiteName,
} from '../../../apiAdmin';
import { DryRunPreview } from '../../../components/admin/DryRunPreview';
import { ErrorBanner } from '../../../components/States';
import { EMPTY_FIELDS, toEntry, type EntryFields } from '../../../lib/admin/configForm';
import { scopeName, type SiteNames } from '../../../lib/admin/sites';
import { asCommandError } from '../../../lib/errors';
import { t } from '../../../messages';
import { EntryForm } from './EntryForm';

/** What the panel is composing: a setting to set, one to remove, or a rollback. */
export type Change =
  | { kind: 'set'; prefill?: EntryFields }
  | { kind: 'unset'; scope: string; key: string }
  | { kind: 'rollback'; to: number };

type Send = (dryRun: boolean) => Promise<DryRunView | ConfigVersion>;

function isDryRun(answer: DryRunView | ConfigVersion): answer is DryRunView {
  return (answer as DryRunView).dry_run === true;
}

/**
 * Every configuration change goes the same way: the change and a required comment →
 * Preview (a dry run: the diff and the renderings, nothing written) → Publish version N.
 */
export function ChangePanel({
  change,
  sites,
  names,
  onCancel,
  onPublished,
}: {
  change: Change;
  sites: SiteName[];
  names: SiteNames;
  onCancel: () => void;
  onPublished: (version: number) => void;
}) {
  const [fields, setFields] = useState<EntryFields>(change.kind === 'set' ? (change.prefill ?? EMPTY_FIELDS) : EMPTY_FIELDS);
  const [comment, setComment] = useState('');
  const [preview, setPreview] = useState<{ view: DryRunView; send: Send } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const commentField = useRef<HTMLTextAreaElement>(null);
  const panel = useRef<HTMLElement>(null);

  useEffect(() => {
    if (change.kind !== 'set' || change.prefill) {
      panel.current?.scrollIntoView?.({ block: 'nearest' });
      if (change.kind !== 'set') commentField.current?.focus();
    }
  }, [change]);

  const edit = (f: EntryFields) => {
    setFields(f);
    setPreview(null);
    setError(null);
  };

  const sender = (): Send | string => {
    const why = comment.trim();
    if (change.kind === 'unset') return (dry) => unsetEntry(change.scope, change.key, why, dry);
    if (change.kind === 'rollback') return (dry) => rollback(change.to, why, dry);
    const parsed = toEntry({ ...fields, comment: why });
    if (!parsed.ok) return parsed.error;
    return (dry) => setEntry(parsed.entry, dry);
  };

  const runPreview = async () => {
    const send = sender();
    if (typeof send === 'string') {
      setError(send);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const answer = await send(true);
      if (isDryRun(answer)) setPreview({ view: answer, send });
    } catch (e) {
      setError(asCommandError(e).message);
    } finally {
      setBusy(false);
    }
  };

  const publish = async () => {
    if (!preview) return;
    setBusy(true);
    setError(null);
    try {
      const answer = await preview.send(false);
      onPublished(answer.version);
    } catch (e) {
      setError(asCommandError(e).message);
      setBusy(false);
    }
  };

  const title =
    change.kind === 'unset'
      ? t('admin.config.unset.title', { key: change.key, scope: scopeName(names, change.scope) })
      : change.kind === 'rollback'
        ? t('admin.config.rollback.title', { n: change.to })
        : t('admin.config.form.title');

  return (
    <section className="admin-panel" ref={panel} aria-labelledby="config-change-title" data-testid="config-change">
      <h2 id="config-change-title">{title}</h2>
      {change.kind === 'set' && <EntryForm fields={fields} onChange={edit} sites={sites} />}
      {change.kind === 'unset' && <p className="muted">{t('admin.config.unset.body')}</p>}
      {change.kind === 'rollback' && <p className="muted">{t('admin.config.rollback.body', { n: change.to })}</p>}
      <label className="admin-field">
        {t('admin.config.form.comment')}
        <textarea
          ref={commentField}
          data-testid="config-comment"
          rows={2}
          required
          value={comment}
          onChange={(e) => {
            setComment(e.target.value);
            setPreview(null);
          }}
        />
      </label>
      {error && !preview && <ErrorBanner message={error} />}
      <div className="actions">
        <button
          type="button"
          className={preview ? undefined : 'button-primary'}
          data-testid="config-preview-button"
          disabled={busy || !comment.trim()}
          onClick={() => void runPreview()}
        >
          {t('admin.config.form.preview')}
        </button>
        {change.kind !== 'set' && (
          <button type="button" onClick={onCancel} data-testid="config-cancel">
            {t('admin.config.back_to_form')}
          </button>
        )}
      </div>
      {preview && (
        <DryRunPreview
          view={preview.view}
          names={names}
          busy={busy}
          error={error}
          onPublish={() => void publish()}
          onDiscard={() => {
            setPreview(null);
            if (change.kind !== 'set') onCancel();
          }}
        />
      )}
    </section>
  );
}
