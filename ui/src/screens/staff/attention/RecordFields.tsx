import type { Field } from '../../../lib/recordForm';
import { humanName } from '../../../lib/refused';
import { t } from '../../../messages';

/** One input per property of the record, typed by its value; long text gets a text area. */
export function RecordFields({
  fields,
  errors,
  onChange,
}: {
  fields: Field[];
  errors: Record<string, string>;
  onChange: (index: number, next: Field) => void;
}) {
  if (fields.length === 0) return <p className="muted">{t('attention.drawer.noFields')}</p>;
  return (
    <div className="record-fields">
      {fields.map((f, i) => {
        const id = `attention-field-${i}`;
        const testId = `attention-field-${f.key}`;
        const error = errors[f.key];
        const describedBy = error ? `${id}-error` : f.kind === 'json' ? `${id}-hint` : undefined;
        if (f.kind === 'boolean') {
          return (
            <label key={f.key} className="check">
              <input type="checkbox" data-testid={testId} checked={f.checked} onChange={(e) => onChange(i, { ...f, checked: e.target.checked })} />
              {humanName(f.key)}
            </label>
          );
        }
        const common = {
          id,
          'data-testid': testId,
          value: f.text,
          spellCheck: f.kind === 'text',
          'aria-invalid': error ? true : undefined,
          'aria-describedby': describedBy,
        };
        return (
          <div key={f.key} className="field">
            <label htmlFor={id}>{humanName(f.key)}</label>
            {f.long ? (
              <textarea {...common} className="field-long" rows={6} onChange={(e) => onChange(i, { ...f, text: e.target.value })} />
            ) : (
              <input
                {...common}
                type="text"
                inputMode={f.kind === 'number' ? 'decimal' : undefined}
                className={f.kind === 'json' ? 'mono' : undefined}
                onChange={(e) => onChange(i, { ...f, text: e.target.value })}
              />
            )}
            {f.kind === 'json' && !error && (
              <span id={`${id}-hint`} className="muted field-hint">
                {t('attention.drawer.fieldJson')}
              </span>
            )}
            {error && (
              <span id={`${id}-error`} className="field-error" role="alert">
                {error}
              </span>
            )}
          </div>
        );
      })}
    </div>
  );
}
