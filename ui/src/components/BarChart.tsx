import { barHeight, compactNumber, niceMax, ticks } from '../lib/chart';

export interface Series {
  key: string;
  label: string;
  /** CSS class giving the bar its colour (see styles.css, `.fill-*`). */
  className: string;
}

export interface BarGroup {
  key: string | number;
  label: string;
  values: Record<string, number>;
  /** A small coloured mark under the group, e.g. a run's outcome. */
  marker?: { className: string; label: string };
}

const HEIGHT = 140;
const AXIS = 36;
const BOTTOM = 26;
const GAP = 8;

/**
 * Grouped bars drawn as plain SVG: one group per item, one bar per series. Every bar has a
 * tooltip (<title>) with its exact value; the chart's label summarises it for screen readers.
 */
export function BarChart({
  title,
  series,
  groups,
  barWidth = 12,
}: {
  title: string;
  series: Series[];
  groups: BarGroup[];
  barWidth?: number;
}) {
  const largest = Math.max(0, ...groups.flatMap((g) => series.map((s) => g.values[s.key] ?? 0)));
  const max = niceMax(largest);
  const groupWidth = series.length * barWidth + GAP;
  const width = AXIS + groups.length * groupWidth + GAP;
  const total = HEIGHT + BOTTOM;
  const TOP = 8;
  const showLabels = groups.length <= 12;

  return (
    <figure className="chart">
      <svg
        role="img"
        aria-label={title}
        // Room above the top tick for its label.
        viewBox={`0 -${TOP} ${width} ${total + TOP}`}
        width="100%"
        height={total + TOP}
        preserveAspectRatio="xMinYMid meet"
      >
        {ticks(max).map((t) => {
          const y = HEIGHT - barHeight(t, max, HEIGHT);
          return (
            <g key={t} className="axis">
              <line x1={AXIS - 4} x2={width} y1={y} y2={y} />
              <text x={AXIS - 6} y={y + 4} textAnchor="end">
                {compactNumber(t)}
              </text>
            </g>
          );
        })}
        {groups.map((g, i) => {
          const x0 = AXIS + GAP / 2 + i * groupWidth;
          return (
            <g key={g.key} data-testid="chart-group">
              {series.map((s, j) => {
                const value = g.values[s.key] ?? 0;
                const h = barHeight(value, max, HEIGHT);
                return (
                  <rect
                    key={s.key}
                    className={s.className}
                    x={x0 + j * barWidth}
                    y={HEIGHT - h}
                    width={barWidth - 2}
                    height={h}
                  >
                    <title>{`${g.label}: ${value} ${s.label.toLowerCase()}`}</title>
                  </rect>
                );
              })}
              {g.marker && (
                <rect
                  className={g.marker.className}
                  x={x0}
                  y={HEIGHT + 3}
                  width={groupWidth - GAP}
                  height={4}
                  rx={2}
                >
                  <title>{`${g.label}: ${g.marker.label}`}</title>
                </rect>
              )}
              {showLabels && (
                <text className="axis-label" x={x0 + (groupWidth - GAP) / 2} y={HEIGHT + 20} textAnchor="middle">
                  {g.label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        {series.map((s) => (
          <span key={s.key} className="legend-item">
            <svg width="10" height="10" aria-hidden="true">
              <rect className={s.className} width="10" height="10" rx="2" />
            </svg>
            {s.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
