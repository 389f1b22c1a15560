// The one module that draws with Chart.js (canvas). Screen tests mock it: jsdom has no canvas.
// (uPlot was tried first: its constructor failed in the WebKitGTK webview.)
import { useEffect, useRef } from 'react';
import {
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import type { StatsSeries } from '../../apiAdmin';
import { formatShort } from '../../lib/time';
import { t } from '../../messages';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Filler, Legend, Tooltip);

export interface SeriesChartProps {
  series: StatsSeries;
  /** The bucket the cursor is on (keyboard or pointer); null: none. */
  activeIndex: number | null;
  /** The pointer moved onto a bucket (or off the chart: null). */
  onHover: (index: number | null) => void;
  height?: number;
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function config(series: StatsSeries, onHover: (i: number | null) => void): ChartConfiguration<'line'> {
  const applied = cssVar('--c-applied', '#2e8b57');
  const rejected = cssVar('--c-rejected', '#d2413a');
  const batches = cssVar('--c-duplicate', '#6b8fd6');
  const muted = cssVar('--muted', '#5b6470');
  const grid = cssVar('--border', '#d5d9df');
  const now = Date.now();
  const axis = { ticks: { color: muted }, grid: { color: grid }, beginAtZero: true };
  return {
    type: 'line',
    data: {
      labels: series.buckets.map((b) => formatShort(b.at, now)),
      datasets: [
        { label: t('admin.stats.series.applied'), data: series.buckets.map((b) => b.applied), borderColor: applied, backgroundColor: `${applied}33`, fill: true, pointRadius: 0, tension: 0.2 },
        { label: t('admin.stats.series.rejected'), data: series.buckets.map((b) => b.rejected), borderColor: rejected, backgroundColor: rejected, pointRadius: 0, tension: 0.2 },
        { label: t('admin.stats.series.batches'), data: series.buckets.map((b) => b.batches), borderColor: batches, backgroundColor: batches, borderDash: [4, 3], pointRadius: 0, yAxisID: 'batches' },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: { labels: { color: muted, boxWidth: 12 } }, tooltip: { enabled: true } },
      scales: {
        x: { ticks: { color: muted, maxRotation: 0, autoSkip: true, maxTicksLimit: 8 }, grid: { display: false } },
        y: { ...axis, ticks: { ...axis.ticks, precision: 0 } },
        batches: { ...axis, position: 'right', grid: { display: false }, ticks: { ...axis.ticks, precision: 0 } },
      },
      onHover: (_event, elements) => onHover(elements.length ? elements[0].index : null),
    },
  };
}

/** Applied and rejected records and batches per bucket, drawn by Chart.js; sized to its box. */
export function SeriesChart({ series, activeIndex, onHover, height = 240 }: SeriesChartProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'line'> | null>(null);
  const hover = useRef(onHover);

  useEffect(() => {
    hover.current = onHover;
  }, [onHover]);

  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const make = () => {
      chart.current?.destroy();
      try {
        chart.current = new Chart(el, config(series, (i) => hover.current(i)));
      } catch (e) {
        // The exact values stay reachable in the table (Show as table) and the live line.
        console.error('the chart could not be drawn', e);
        chart.current = null;
      }
    };
    make();
    // The theme's colours are read when drawing: draw again when it changes.
    const theme = new MutationObserver(make);
    theme.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    const media = window.matchMedia?.('(prefers-color-scheme: dark)');
    media?.addEventListener?.('change', make);
    return () => {
      theme.disconnect();
      media?.removeEventListener?.('change', make);
      chart.current?.destroy();
      chart.current = null;
    };
  }, [series]);

  useEffect(() => {
    const c = chart.current;
    if (!c || activeIndex === null) return;
    const active = c.data.datasets.map((_d, datasetIndex) => ({ datasetIndex, index: activeIndex }));
    c.setActiveElements(active);
    c.tooltip?.setActiveElements(active, { x: 0, y: 0 });
    c.update();
  }, [activeIndex]);

  return (
    <div className="admin-series-chart" style={{ height }} aria-hidden="true">
      <canvas ref={canvas} />
    </div>
  );
}
