// The theme choice: follow the system (prefers-color-scheme) unless the user picked one.

export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'kendrix.theme';

export function loadTheme(): ThemeChoice {
  try {
    const saved = localStorage.getItem(KEY);
    return saved === 'light' || saved === 'dark' ? saved : 'system';
  } catch {
    return 'system';
  }
}

/** Applies a choice to the document (CSS reads `data-theme`) and remembers it. */
export function applyTheme(choice: ThemeChoice): void {
  const root = document.documentElement;
  if (choice === 'system') delete root.dataset.theme;
  else root.dataset.theme = choice;
  try {
    if (choice === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // Storage can be unavailable; the choice then lasts for this session only.
  }
}
