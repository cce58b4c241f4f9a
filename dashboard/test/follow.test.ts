import { describe, expect, it } from "vitest";
import { followLog, phaseTimings, phases, type LogPage } from "../src/follow";

function server(pages: Omit<LogPage, "after">[]) {
  const asked: [number, number][] = [];
  let i = 0;
  const fetchPage = async (after: number, wait: number): Promise<LogPage> => {
    asked.push([after, wait]);
    return { after, ...pages[Math.min(i++, pages.length - 1)] };
  };
  return { fetchPage, asked };
}

describe("followLog", () => {
  it("long-polls from each answer's offset until the log is complete", async () => {
    const s = server([
      { next: 6, text: "plan\n", complete: false, status: "planning" },
      { next: 6, text: "", complete: false, status: "planning" },
      { next: 12, text: "done\n", complete: true, status: "planned" },
    ]);
    let text = "";
    const statuses: string[] = [];
    let clock = 0;
    const result = await followLog(s.fetchPage, 0, (t) => (text += t), (st) => statuses.push(st), {
      wait: 20, now: () => (clock += 20_000), sleep: async () => {},
    });
    expect(s.asked).toEqual([[0, 20], [6, 20], [6, 20]]);
    expect(text).toBe("plan\ndone\n");
    expect(statuses).toEqual(["planning", "planned"]);
    expect(result).toEqual({ next: 12, status: "planned", requests: 3, complete: true });
  });

  it("waits between empty answers that came back at once (no tight loop)", async () => {
    const s = server([
      { next: 0, text: "", complete: false, status: "queued" },
      { next: 0, text: "", complete: false, status: "queued" },
      { next: 3, text: "ok\n", complete: true, status: "applied" },
    ]);
    const slept: number[] = [];
    const result = await followLog(s.fetchPage, 0, () => {}, () => {}, {
      now: () => 0, sleep: async (ms) => void slept.push(ms), minGapMs: 1000,
    });
    expect(slept).toEqual([1000, 1000]);
    expect(result.requests).toBe(3);
  });

  it("reads a busy log in batches: at most one request per busy gap", async () => {
    const s = server([
      { next: 2, text: "a\n", complete: false, status: "applying" },
      { next: 4, text: "b\n", complete: false, status: "applying" },
      { next: 6, text: "c\n", complete: true, status: "applied" },
    ]);
    const slept: number[] = [];
    await followLog(s.fetchPage, 0, () => {}, () => {}, {
      now: () => 0, sleep: async (ms) => void slept.push(ms), busyGapMs: 2000,
    });
    expect(slept).toEqual([2000, 2000]);
  });

  it("a 15-minute follow of a quiet deployment costs 45 status requests", async () => {
    let clock = 0;
    let calls = 0;
    const fetchPage = async (after: number, wait: number): Promise<LogPage> => {
      calls++;
      clock += wait * 1000; // the server holds each call for `wait` seconds
      return { after, next: after, text: "", complete: clock >= 15 * 60 * 1000, status: "applying" };
    };
    await followLog(fetchPage, 0, () => {}, () => {}, { wait: 20, now: () => clock, sleep: async () => {} });
    expect(calls).toBe(45);
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    const s = server([{ next: 0, text: "x", complete: false, status: "applying" }]);
    const result = await followLog(s.fetchPage, 0, () => controller.abort(), () => {}, { signal: controller.signal });
    expect(result.complete).toBe(false);
    expect(result.requests).toBe(1);
  });
});

describe("phaseTimings", () => {
  it("measures plan, apply and total from the deployment's timestamps", () => {
    expect(phaseTimings({ created_at: "2026-01-01T00:00:00Z", approved_at: "2026-01-01T00:00:30Z", finished_at: "2026-01-01T00:01:10Z" }))
      .toEqual([{ phase: "plan (until approved)", seconds: 30 }, { phase: "apply", seconds: 40 }, { phase: "total", seconds: 70 }]);
    expect(phaseTimings({ created_at: "2026-01-01T00:00:00Z" })[2].seconds).toBeNull();
  });
});

describe("phases", () => {
  const created = "2026-12-07T10:00:00Z";
  it("a deployment waiting for approval: plan done (timed by the page), approval waiting", () => {
    const seen = { planning: Date.parse("2026-12-07T10:00:02Z"), planned: Date.parse("2026-12-07T10:00:12Z") };
    expect(phases({ status: "planned", created_at: created }, seen)).toEqual([
      { name: "plan", state: "done", seconds: 10 },
      { name: "approval", state: "waiting for you", seconds: null },
      { name: "apply", state: "not started", seconds: null },
    ]);
  });

  it("an applied deployment: every phase done, apply timed by the server", () => {
    const seen = { planning: Date.parse("2026-12-07T10:00:02Z"), planned: Date.parse("2026-12-07T10:00:12Z") };
    const d = { status: "applied", created_at: created, approved_at: "2026-12-07T10:00:20Z", finished_at: "2026-12-07T10:00:50Z" };
    expect(phases(d, seen)).toEqual([
      { name: "plan", state: "done", seconds: 10 },
      { name: "approval", state: "done", seconds: 8 },
      { name: "apply", state: "done", seconds: 30 },
    ]);
  });

  it("a plan the page did not watch has no plan time; running phases say so", () => {
    expect(phases({ status: "planning", created_at: created }).map((p) => p.state)).toEqual(["running", "not started", "not started"]);
    expect(phases({ status: "applying", created_at: created, approved_at: created }).map((p) => p.state)).toEqual(["done", "done", "running"]);
    expect(phases({ status: "queued", created_at: created })[0]).toEqual({ name: "plan", state: "not started", seconds: null });
  });

  it("a failure is put on the phase it stopped in", () => {
    expect(phases({ status: "failed", created_at: created }).map((p) => p.state)).toEqual(["failed", "not started", "not started"]);
    expect(phases({ status: "cancelled", created_at: created, approved_at: created }).map((p) => p.state)).toEqual(["done", "done", "cancelled"]);
  });

  it("a plan with nothing to change is applied without approval", () => {
    expect(phases({ status: "applied", created_at: created }).map((p) => p.state)).toEqual(["done", "done", "done"]);
  });
});
