// Scaling for the hand-drawn SVG charts.

/** The smallest 1, 2 or 5 × 10^n at or above `value` (at least 1), so axes read well. */
export function niceMax(value: number): number {
  if (!(value > 1)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

/** A bar's height in pixels for `value` on an axis from 0 to `max` drawn `height` tall. */
export function barHeight(value: number, max: number, height: number): number {
  if (max <= 0 || value <= 0) return 0;
  const h = (Math.min(value, max) / max) * height;
  // A non-zero value stays visible even when it is tiny next to the largest one.
  return Math.max(h, 1);
}

/** Evenly spaced axis ticks from 0 to `max` inclusive. */
export function ticks(max: number, count = 4): number[] {
  const out: number[] = [];
  for (let i = 0; i <= count; i++) out.push((max * i) / count);
  return out;
}

/** "1.2k", "3.4M": compact axis labels. */
export function compactNumber(n: number): string {
  if (n >= 1_000_000) return `${+(n / 1_000_000).toFixed(1)}M`;
  if (n >= 1_000) return `${+(n / 1_000).toFixed(1)}k`;
  return String(+n.toFixed(1));
}
