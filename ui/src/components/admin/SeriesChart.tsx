// The one module that draws with uPlot (canvas). Screen tests mock it: jsdom has no canvas.
import { useEffect, useRef } from 'react';
import type uPlot from 'uplot';
import type { StatsSeries } from '../../apiAdmin';
import { t } from '../../messages';

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

function options(width: number, height: number, onHover: (i: number | null) => void): uPlot.Options {
  const applied = cssVar('--c-applied', '#2e8b57');
  const rejected = cssVar('--c-rejected', '#d2413a');
  const batches = cssVar('--c-duplicate', '#6b8fd6');
  const muted = cssVar('--muted', '#5b6470');
  const grid = cssVar('--border', '#d5d9df');
  const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  return {
    width,
    height,
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false }, points: { size: 7 } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] }, batches: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    axes: [axis, { ...axis, size: 50 }, { ...axis, scale: 'batches', side: 1, grid: { show: false }, size: 40 }],
    series: [
      {},
      { label: t('admin.stats.series.applied'), stroke: applied, fill: `${applied}22`, width: 2 },
      { label: t('admin.stats.series.rejected'), stroke: rejected, width: 2 },
      { label: t('admin.stats.series.batches'), stroke: batches, width: 1.5, dash: [4, 3], scale: 'batches' },
    ],
    hooks: { setCursor: [(u) => onHover(u.cursor.idx ?? null)] },
  };
}

function dataOf(s: StatsSeries): uPlot.AlignedData {
  return [
    s.buckets.map((b) => b.at / 1000),
    s.buckets.map((b) => b.applied),
    s.buckets.map((b) => b.rejected),
    s.buckets.map((b) => b.batches),
  ];
}

/** Applied and rejected records and batches per bucket, drawn by uPlot; sized to its box. */
export function SeriesChart({ series, activeIndex, onHover, height = 240 }: SeriesChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const hover = useRef(onHover);
  useEffect(() => {
    hover.current = onHover;
  }, [onHover]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let live = true;
    let UPlot: typeof uPlot | null = null;
    const make = () => {
      if (!live || !UPlot) return;
      plot.current?.destroy();
      plot.current = new UPlot(options(el.clientWidth || 600, height, (i) => hover.current(i)), dataOf(series), el);
    };
    // Loaded when a chart is first shown: uPlot reads the window (matchMedia) as it loads.
    Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')])
      .then(([mod]) => {
        UPlot = mod.default;
        make();
      })
      .catch((e: unknown) => {
        // The exact values stay reachable in the table (Show as table) and the live line.
        console.error('the chart could not be drawn', e);
      });
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth || 600, height }));
    resize.observe(el);
    // The theme's colours are read when drawing: draw again when it changes.
    const theme = new MutationObserver(make);
    theme.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    const media = window.matchMedia?.('(prefers-color-scheme: dark)');
    media?.addEventListener?.('change', make);
    return () => {
      live = false;
      resize.disconnect();
      theme.disconnect();
      media?.removeEventListener?.('change', make);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series, height]);

  useEffect(() => {
    const u = plot.current;
    if (!u || activeIndex === null || u.cursor.idx === activeIndex) return;
    const x = u.data[0][activeIndex];
    if (x === undefined) return;
    u.setCursor({ left: u.valToPos(x, 'x'), top: u.valToPos(u.data[1][activeIndex] ?? 0, 'y') });
  }, [activeIndex]);

  return <div ref={box} className="admin-uplot" aria-hidden="true" />;
}
