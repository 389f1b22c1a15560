import type { CommandError } from '../api';

/** A command's failure as the shell gave it: a CommandError, or (from Tauri itself) anything. */
export function asCommandError(e: unknown): CommandError {
  if (typeof e === 'object' && e !== null && 'code' in e && 'message' in e) {
    const { code, message } = e as Record<string, unknown>;
    if (typeof code === 'string' && typeof message === 'string') {
      return { code: code as CommandError['code'], message };
    }
  }
  return { code: 'unknown', message: errorMessage(e) };
}

/** The words to show for a failure. */
export function errorMessage(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return 'Something went wrong, and the app was given no reason.';
}

/**
 * Whether a read failed because this site's client lacks the scope (audit:read, stats:read,
 * config:read): the server answered 403, which the shell reports as the code `permission`.
 */
export function lacksPermission(error: CommandError): boolean {
  return error.code === 'permission';
}
