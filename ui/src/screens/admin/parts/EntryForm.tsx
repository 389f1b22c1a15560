import type { SiteName, ValueType } from '../../../apiAdmin';
import type { EntryFields } from '../../../lib/admin/configForm';
import { t } from '../../../messages';

const TYPES: ValueType[] = ['string', 'number', 'bool', 'json'];

/** The fields of a setting; `onChange` gets the whole new set. Preview is the caller's. */
export function EntryForm({
  fields,
  onChange,
  sites,
}: {
  fields: EntryFields;
  onChange: (f: EntryFields) => void;
  sites: SiteName[];
}) {
  const set = <K extends keyof EntryFields>(key: K, value: EntryFields[K]) => onChange({ ...fields, [key]: value });
  const targets = sites.filter((s) => s.role !== 'admin' && s.status === 'active');
  return (
    <div className="admin-form-grid">
      <label className="admin-field">
        {t('admin.config.form.scope')}
        <select data-testid="config-scope" value={fields.scope} onChange={(e) => set('scope', e.target.value)}>
          <option value="tenant">{t('admin.scope.tenant')}</option>
          {targets.map((s) => (
            <option key={s.client_id} value={`client:${s.client_id}`}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      <label className="admin-field">
        {t('admin.config.form.key')}
        <input
          data-testid="config-key"
          className="mono"
          value={fields.key}
          placeholder={t('admin.config.form.key_placeholder')}
          spellCheck={false}
          onChange={(e) => set('key', e.target.value)}
        />
      </label>
      <label className="admin-field">
        {t('admin.config.form.type')}
        <select data-testid="config-type" value={fields.type} onChange={(e) => set('type', e.target.value as ValueType)}>
          {TYPES.map((type) => (
            <option key={type} value={type}>
              {type}
            </option>
          ))}
        </select>
      </label>
      <div className="admin-field admin-field-wide">
        {fields.type === 'bool' ? (
          <label className="check">
            <input type="checkbox" data-testid="config-value" checked={fields.flag} onChange={(e) => set('flag', e.target.checked)} />
            {t('admin.config.form.bool_value')}
          </label>
        ) : (
          <label className="admin-field">
            {t('admin.config.form.value')}
            {fields.type === 'json' && !fields.secret ? (
              <textarea data-testid="config-value" rows={3} value={fields.text} spellCheck={false} onChange={(e) => set('text', e.target.value)} />
            ) : (
              <input
                data-testid="config-value"
                type={fields.secret ? 'password' : 'text'}
                inputMode={fields.type === 'number' ? 'decimal' : undefined}
                className="mono"
                autoComplete="off"
                value={fields.text}
                onChange={(e) => set('text', e.target.value)}
              />
            )}
          </label>
        )}
      </div>
      <div className="admin-field admin-field-wide admin-checks">
        <label className="check">
          <input
            type="checkbox"
            data-testid="config-secret"
            checked={fields.secret}
            onChange={(e) => onChange({ ...fields, secret: e.target.checked, reveal: e.target.checked && fields.reveal })}
          />
          {t('admin.config.form.secret')}
        </label>
        {fields.secret && (
          <label className="check">
            <input type="checkbox" data-testid="config-reveal" checked={fields.reveal} onChange={(e) => set('reveal', e.target.checked)} />
            {t('admin.config.form.reveal')}
          </label>
        )}
      </div>
    </div>
  );
}
