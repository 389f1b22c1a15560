/** A file the user can save: an object URL for `text`, to put on an `<a download>`. */
export interface SavedFile {
  url: string;
  name: string;
  bytes: number;
}

export function fileFromText(text: string, name: string, type: string): SavedFile {
  const blob = new Blob([text], { type });
  return { url: URL.createObjectURL(blob), name, bytes: blob.size };
}

/** Starts the browser's download of `file` at once (the link stays on screen as a fallback). */
export function startDownload(file: SavedFile): void {
  const a = document.createElement('a');
  a.href = file.url;
  a.download = file.name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** "12.3 kB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
