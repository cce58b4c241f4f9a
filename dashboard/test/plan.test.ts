import { describe, expect, it } from "vitest";
import { planGroups, planSentence, type PlanInfo } from "../src/plan";

const base: PlanInfo = { headline: "", add: 0, change: 0, destroy: 0, replace: 0, warnings: [], resources: [] };

describe("planSentence", () => {
  it("calls out adds, changes, replacements and deletions apart", () => {
    // Terraform's counts: a replacement is one add and one destroy.
    const plan = { ...base, add: 3, change: 1, destroy: 2, replace: 1 };
    expect(planSentence(plan)).toBe(
      "This plan adds 2 resources, changes 1 in place, replaces 1 (deleted, then created again: " +
        "what is stored on it is lost) and deletes 1 resource.",
    );
  });

  it("says when nothing changes", () => {
    expect(planSentence(base)).toBe("No changes: what runs already matches the bundle.");
  });

  it("a destroy plan is deletions only", () => {
    expect(planSentence({ ...base, destroy: 2, is_destroy: true })).toBe("This plan deletes 2 resources.");
  });
});

describe("planGroups", () => {
  it("groups resources by action, dangerous first, with Terraform's symbols", () => {
    const plan: PlanInfo = {
      ...base,
      resources: [
        { address: "aws_s3_bucket.b", action: "create", description: "bucket will be created" },
        { address: "aws_instance.a", action: "replace", description: "instance will be replaced", reason: "its AMI changed" },
        { address: "aws_db_instance.d", action: "delete", description: "database will be deleted" },
        { address: "aws_iam_role.r", action: "update", description: "role will be updated in place" },
        { address: "aws_s3_bucket.c", action: "create", description: "bucket c will be created" },
      ],
    };
    const groups = planGroups(plan);
    expect(groups.map((g) => [g.action, g.symbol, g.danger, g.title])).toEqual([
      ["delete", "-", true, "1 to delete"],
      ["replace", "-/+", true, "1 to replace (deleted and created again)"],
      ["update", "~", false, "1 to change in place"],
      ["create", "+", false, "2 to add"],
    ]);
    expect(groups[1].items[0].reason).toBe("its AMI changed");
    expect(groups[3].items.map((i) => i.address)).toEqual(["aws_s3_bucket.b", "aws_s3_bucket.c"]);
  });

  it("leaves no-op resources out", () => {
    expect(planGroups({ ...base, resources: [{ address: "x.y", action: "no-op", description: "" }] })).toEqual([]);
  });
});
