// The targets' monthly costs as bar chart data (pure: the page draws it).

export interface CostLine {
  resource: string;
  monthly_usd: number;
  monthly_free_tier_usd: number;
  note?: string | null;
}

export interface TargetEstimate {
  target: string;
  fits: boolean;
  why_not: string[];
  lines: CostLine[];
  monthly_usd: number;
  monthly_free_tier_usd: number;
}

export interface CostSummary {
  currency: string;
  prices_as_of: string;
  assumptions: string[];
  targets: TargetEstimate[];
}

export interface Bar {
  target: string;
  fits: boolean;
  recommended: boolean;
  list: number;
  free: number;
  listPct: number; // of the widest bar, 0..100
  freePct: number;
  whyNot: string[];
  lines: { resource: string; list: string; free: string; note: string | null }[];
  label: string; // what a screen reader reads
}

export function money(usd: number, currency = "USD"): string {
  const prefix = currency === "USD" ? "$" : `${currency} `;
  return `${prefix}${usd.toFixed(2)}`;
}

/** One bar per target, in the API's order; the scale is the dearest fitting target. */
export function chartData(cost: CostSummary, recommended: string | null): Bar[] {
  const fitting = cost.targets.filter((t) => t.fits);
  const max = Math.max(0, ...fitting.map((t) => t.monthly_usd));
  const pct = (v: number) => (max > 0 ? Math.round((v / max) * 1000) / 10 : 0);
  return cost.targets.map((t) => {
    const list = t.fits ? t.monthly_usd : 0;
    const free = t.fits ? Math.min(t.monthly_free_tier_usd, t.monthly_usd) : 0;
    const label = t.fits
      ? `${t.target}: ${money(list, cost.currency)} a month, ${money(free, cost.currency)} after the free tier` +
        (t.target === recommended ? " (recommended)" : "")
      : `${t.target}: does not fit (${t.why_not.join("; ") || "no reason given"})`;
    return {
      target: t.target,
      fits: t.fits,
      recommended: t.target === recommended,
      list,
      free,
      listPct: t.fits ? pct(list) : 0,
      freePct: t.fits ? pct(free) : 0,
      whyNot: t.why_not,
      lines: [...t.lines]
        .sort((a, b) => b.monthly_usd - a.monthly_usd || a.resource.localeCompare(b.resource))
        .map((l) => ({
          resource: l.resource,
          list: money(l.monthly_usd, cost.currency),
          free: money(l.monthly_free_tier_usd, cost.currency),
          note: l.note ?? null,
        })),
      label,
    };
  });
}
