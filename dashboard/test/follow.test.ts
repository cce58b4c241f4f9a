import { describe, expect, it } from "vitest";
import { followLog, phaseTimings, type LogPage } from "../src/follow";

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
