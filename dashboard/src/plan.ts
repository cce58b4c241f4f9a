// A deployment's plan in plain words: what is added, changed in place, replaced and
// deleted, each called out on its own (pure: the page draws it).

export type ResourceAction = "create" | "update" | "replace" | "delete" | "forget" | "read" | "no-op";

export interface PlanResource {
  address: string;
  action: ResourceAction | string;
  description: string;
  reason?: string | null;
}

export interface PlanInfo {
  headline: string;
  add: number;
  change: number;
  destroy: number;
  replace: number;
  forget?: number;
  is_destroy?: boolean;
  warnings: string[];
  resources: PlanResource[];
}

export interface PlanGroup {
  action: ResourceAction;
  title: string; // "2 to add"
  symbol: string; // what Terraform prints beside it: +, ~, -/+, -
  danger: boolean; // data can be lost
  items: { address: string; description: string; reason: string | null }[];
}

const GROUPS: { action: ResourceAction; symbol: string; danger: boolean; title: (n: number) => string }[] = [
  { action: "delete", symbol: "-", danger: true, title: (n) => `${n} to delete` },
  { action: "replace", symbol: "-/+", danger: true, title: (n) => `${n} to replace (deleted and created again)` },
  { action: "update", symbol: "~", danger: false, title: (n) => `${n} to change in place` },
  { action: "create", symbol: "+", danger: false, title: (n) => `${n} to add` },
  { action: "forget", symbol: "", danger: false, title: (n) => `${n} to forget (left running, no longer managed)` },
  { action: "read", symbol: "<=", danger: false, title: (n) => `${n} to read` },
];

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** One sentence: what the plan does, replacements and deletions named apart from adds. */
export function planSentence(plan: PlanInfo): string {
  // Terraform counts a replacement as one add and one destroy: take them apart.
  const adds = Math.max(0, plan.add - plan.replace);
  const deletes = Math.max(0, plan.destroy - plan.replace);
  const parts: string[] = [];
  if (adds) parts.push(`adds ${plural(adds, "resource")}`);
  if (plan.change) parts.push(`changes ${plan.change} in place`);
  if (plan.replace) parts.push(`replaces ${plan.replace} (deleted, then created again: what is stored on ${plan.replace === 1 ? "it" : "them"} is lost)`);
  if (deletes) parts.push(`deletes ${plural(deletes, "resource")}`);
  if (plan.forget) parts.push(`stops managing ${plan.forget} (left running)`);
  if (!parts.length) return "No changes: what runs already matches the bundle.";
  const last = parts.pop()!;
  const text = parts.length ? `${parts.join(", ")} and ${last}` : last;
  return `This plan ${text}.`;
}

/** The resources grouped by action, the dangerous groups first; empty groups left out. */
export function planGroups(plan: PlanInfo): PlanGroup[] {
  return GROUPS.map((g) => {
    const items = plan.resources
      .filter((r) => r.action === g.action)
      .map((r) => ({ address: r.address, description: r.description, reason: r.reason ?? null }));
    return { action: g.action, symbol: g.symbol, danger: g.danger, title: g.title(items.length), items };
  }).filter((g) => g.items.length > 0);
}
