import { describe, expect, it } from "vitest";
import { canRollBack, nameProblem, releaseLine, shownValue, type Release } from "../src/releases";

const release: Release = {
  id: "r1", stack: "main", status: "live", image_tag: "src-abc", created_at_epoch: 1796000000, created_by: "ada",
};

describe("nameProblem", () => {
  it("accepts the API's names", () => {
    for (const name of ["A", "_X", "API_KEY", "DB2_URL"]) expect(nameProblem(name)).toBeNull();
  });
  it("refuses bad and reserved names in words", () => {
    expect(nameProblem("lower")).toContain("upper case");
    expect(nameProblem("1A")).toContain("upper case");
    expect(nameProblem("")).toContain("The name");
    expect(nameProblem("PORT")).toContain("reserved");
    expect(nameProblem("AWS_SECRET_ACCESS_KEY")).toContain("reserved");
  });
});

describe("releases", () => {
  it("says the tag, status, time and who", () => {
    expect(releaseLine(release)).toBe("src-abc: live, 2026-11-30 00:53 by ada");
    expect(releaseLine({ ...release, status: "failed", failed_phase: "building" })).toContain("failed in building");
    expect(releaseLine({ ...release, rollback_of: "r0" })).toContain("back to r0");
  });
  it("only an earlier release that went live can come back", () => {
    expect(canRollBack(release)).toBe(false);
    expect(canRollBack({ ...release, status: "superseded" })).toBe(true);
    expect(canRollBack({ ...release, status: "failed" })).toBe(false);
  });
});

describe("shownValue", () => {
  it("never shows a secret", () => {
    expect(shownValue({ name: "K", kind: "secret", value: "leak" })).not.toContain("leak");
    expect(shownValue({ name: "G", kind: "generated" })).toContain("generated");
    expect(shownValue({ name: "L", kind: "value", value: "debug" })).toBe("debug");
  });
});
