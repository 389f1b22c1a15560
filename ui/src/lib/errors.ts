/** The message to show for a failed command: the Rust side rejects with a plain string. */
export function errorMessage(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  return 'Something went wrong, and the app was given no reason.';
}

/**
 * Whether a command failed because the server answered 403: this site's client lacks the
 * scope (audit:read, stats:read, config:read). The shell passes the server's problem text
 * through, which names the status, "insufficient scope" or "forbidden".
 */
export function isForbidden(message: string): boolean {
  return /\b403\b|forbidden|insufficient[ _-]scope/i.test(message);
}
