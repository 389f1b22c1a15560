import { revealFile } from '../../../api';
import { asCommandError } from '../../../lib/errors';
import { t } from '../../../messages';

/** "Saved to … · Open folder" for a file the admin saved; a failure to open goes to `onError`. */
export function SavedResult({ testId, text, path, onError }: { testId: string; text: string; path: string; onError: (message: string) => void }) {
  const open = async () => {
    try {
      await revealFile(path);
    } catch (e) {
      onError(asCommandError(e).message);
    }
  };
  return (
    <span data-testid={`${testId}-result`} className="admin-export-result">
      <span className="admin-wrap">{text}</span>
      {' · '}
      <button type="button" className="button-small admin-link-button" data-testid={`${testId}-open`} onClick={() => void open()}>
        {t('admin.audit.open_folder')}
      </button>
    </span>
  );
}
