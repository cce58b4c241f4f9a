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
    const elapsed = now() - started;
    if (!page.text && elapsed < minGap) await sleep(minGap - elapsed);
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
