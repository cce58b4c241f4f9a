import { describe, expect, it } from "vitest";
import { chartData, type CostSummary } from "../src/costs";

const cost: CostSummary = {
  currency: "USD",
  prices_as_of: "2026-01-01",
  assumptions: [],
  targets: [
    { target: "static", fits: false, why_not: ["the app has a server"], lines: [], monthly_usd: 0, monthly_free_tier_usd: 0 },
    {
      target: "ec2", fits: true, why_not: [], monthly_usd: 10, monthly_free_tier_usd: 4,
      lines: [
        { resource: "EBS volume", monthly_usd: 2, monthly_free_tier_usd: 2 },
        { resource: "EC2 t3.micro", monthly_usd: 8, monthly_free_tier_usd: 2, note: "730 h" },
      ],
    },
    { target: "ecs-fargate", fits: true, why_not: [], monthly_usd: 40, monthly_free_tier_usd: 38, lines: [] },
  ],
};

describe("chartData", () => {
  it("scales bars to the dearest fitting target and marks the recommended one", () => {
    const bars = chartData(cost, "ec2");
    expect(bars.map((b) => [b.target, b.listPct, b.freePct, b.recommended])).toEqual([
      ["static", 0, 0, false],
      ["ec2", 25, 10, true],
      ["ecs-fargate", 100, 95, false],
    ]);
  });

  it("lists resources dearest first with both prices, for the hover", () => {
    const ec2 = chartData(cost, "ec2")[1];
    expect(ec2.lines).toEqual([
      { resource: "EC2 t3.micro", list: "$8.00", free: "$2.00", note: "730 h" },
      { resource: "EBS volume", list: "$2.00", free: "$2.00", note: null },
    ]);
    expect(ec2.label).toBe("ec2: $10.00 a month, $4.00 after the free tier (recommended)");
  });

  it("says why a target does not fit", () => {
    expect(chartData(cost, "ec2")[0].label).toBe("static: does not fit (the app has a server)");
  });

  it("draws nothing when no target fits", () => {
    const none = { ...cost, targets: [cost.targets[0]] };
    expect(chartData(none, null).map((b) => b.listPct)).toEqual([0]);
  });
});
