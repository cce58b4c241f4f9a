// Following a deployment's log with long polls: one request per change or per `wait`
// seconds (counted once each in the status bucket), never a tight polling loop.

export interface LogPage {
  after: number;
  next: number;
  text: string;
  complete: boolean;
  status: string;
}

export interface FollowOptions {
  wait?: number; // seconds the server may hold each request
  minGapMs?: number; // floor between requests that brought nothing (a server that answers at once)
  busyGapMs?: number; // floor between requests that brought text: a long apply prints every few seconds
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface FollowResult {
  next: number;
  status: string;
  requests: number;
  complete: boolean;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Read from byte `after` until the log is complete (the deployment settled or planned, and
 * everything read) or `signal` aborts. `onText` gets each new piece, `onStatus` each change
 * of the deployment's status as the log answers report it.
 */
export async function followLog(
  fetchPage: (after: number, wait: number) => Promise<LogPage>,
  after: number,
  onText: (text: string) => void,
  onStatus: (status: string) => void,
  options: FollowOptions = {},
): Promise<FollowResult> {
  const wait = options.wait ?? 20;
  const minGap = options.minGapMs ?? 1000;
  const busyGap = options.busyGapMs ?? 2000;
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? (() => Date.now());
  let status = "";
  let requests = 0;
  let offset = after;
  while (!options.signal?.aborted) {
    const started = now();
    const page = await fetchPage(offset, wait);
    requests++;
    if (page.text) onText(page.text);
    offset = page.next;
    if (page.status !== status) {
      status = page.status;
      onStatus(status);
    }
    if (page.complete) return { next: offset, status, requests, complete: true };
    if (options.signal?.aborted) break;
    // Busy logs are read in batches, so a long apply stays well inside the status bucket.
    const gap = page.text ? busyGap : minGap;
    const elapsed = now() - started;
    if (elapsed < gap) await sleep(gap - elapsed);
  }
  return { next: offset, status, requests, complete: false };
}

/** Phases with their durations, from the deployment's timestamps (seconds). */
export function phaseTimings(d: {
  created_at: string;
  approved_at?: string | null;
  finished_at?: string | null;
}): { phase: string; seconds: number | null }[] {
  const t = (s: string | null | undefined) => (s ? Date.parse(s) / 1000 : null);
  const created = t(d.created_at);
  const approved = t(d.approved_at);
  const finished = t(d.finished_at);
  const span = (a: number | null, b: number | null) => (a !== null && b !== null ? Math.max(0, Math.round(b - a)) : null);
  return [
    { phase: "plan (until approved)", seconds: span(created, approved) },
    { phase: "apply", seconds: span(approved, finished) },
    { phase: "total", seconds: span(created, finished) },
  ];
}

export type PhaseState = "not started" | "running" | "waiting for you" | "done" | "failed" | "cancelled";

export interface Phase {
  name: "plan" | "approval" | "apply";
  state: PhaseState;
  seconds: number | null;
}

/**
 * The deployment's phases with their states and durations. Server times give the
 * approval and apply spans; the plan's span comes from when this page saw the
 * deployment reach `planning` and `planned` (`seen`: status -> ms), so it is null for a
 * plan that ran before the page was open.
 */
export function phases(
  d: { status: string; created_at: string; approved_at?: string | null; finished_at?: string | null },
  seen: Record<string, number> = {},
): Phase[] {
  const t = (s: string | null | undefined) => (s ? Date.parse(s) : null);
  const span = (a: number | null | undefined, b: number | null | undefined) =>
    a != null && b != null ? Math.max(0, Math.round((b - a) / 1000)) : null;
  const approved = t(d.approved_at);
  const finished = t(d.finished_at);
  const planEnd = seen.planned ?? seen.applying ?? null;
  const order = ["queued", "planning", "planned", "applying", "applied"];
  const at = order.indexOf(d.status);
  const ended = d.status === "failed" || d.status === "cancelled";
  const endState: PhaseState = d.status === "failed" ? "failed" : "cancelled";
  const plan: Phase = { name: "plan", state: "not started", seconds: span(seen.planning, planEnd) };
  const approval: Phase = { name: "approval", state: "not started", seconds: span(planEnd, approved) };
  const apply: Phase = { name: "apply", state: "not started", seconds: span(approved, finished) };
  if (ended) {
    // Where it stopped: after the approval it was applying, before it was planning.
    if (approved !== null) {
      plan.state = approval.state = "done";
      apply.state = endState;
    } else plan.state = endState;
    return [plan, approval, apply];
  }
  if (at >= 1) plan.state = at === 1 ? "running" : "done";
  if (at >= 2) approval.state = at === 2 ? "waiting for you" : "done";
  if (at >= 3) apply.state = at === 3 ? "running" : "done";
  // A plan with nothing to change ends `applied` with no approval and no apply.
  if (d.status === "applied" && approved === null) approval.state = apply.state = "done";
  return [plan, approval, apply];
}
