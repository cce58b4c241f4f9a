import { unzipSync, strFromU8 } from "fflate";
import { describe, expect, it } from "vitest";
import { isIgnored, pack, PackError, parseGitignore, selectFiles, type SourceFile } from "../src/pack";

const file = (path: string, text = "x"): SourceFile => {
  const bytes = new TextEncoder().encode(text);
  return { path, size: bytes.length, read: async () => bytes };
};

describe("ignore rules", () => {
  it("skips version control, dependency folders and virtualenvs", async () => {
    const { kept, skipped } = await selectFiles([
      file("app/main.py"), file("app/.git/config"), file("app/node_modules/x/index.js"),
      file("app/env/pyvenv.cfg"), file("app/env/lib/site.py"), file("app/__pycache__/m.pyc"),
    ]);
    expect(kept.map((f) => f.path)).toEqual(["app/main.py"]);
    expect(skipped).toBe(5);
  });

  it("honours .gitignore at any depth, with negation, anchors and folders", async () => {
    const { kept } = await selectFiles([
      file(".gitignore", "# comment\n*.log\n!keep.log\n/build/\nsecret.env\n"),
      file("web/.gitignore", "local/\n"),
      file("a.log"), file("keep.log"), file("build/out.js"), file("src/build/ok.js"),
      file("web/local/x"), file("web/app.js"), file("secret.env"), file("deep/secret.env"),
    ]);
    expect(kept.map((f) => f.path)).toEqual([".gitignore", "keep.log", "src/build/ok.js", "web/.gitignore", "web/app.js"]);
  });

  it("matches globs the way git does", () => {
    const rules = parseGitignore("docs/**/*.pdf\n?.tmp\n[ab].txt\n");
    expect(isIgnored("docs/a/b/c.pdf", rules)).toBe(true);
    expect(isIgnored("docs/c.pdf", rules)).toBe(true);
    expect(isIgnored("other/c.pdf", rules)).toBe(false);
    expect(isIgnored("x.tmp", rules)).toBe(true);
    expect(isIgnored("xy.tmp", rules)).toBe(false);
    expect(isIgnored("a.txt", rules)).toBe(true);
    expect(isIgnored("c.txt", rules)).toBe(false);
  });

  it("keeps a file under an ignored folder out even when negated", () => {
    const rules = parseGitignore("logs/\n!logs/important.txt\n");
    expect(isIgnored("logs/important.txt", rules)).toBe(true);
  });
});

describe("pack", () => {
  it("zips the kept files, sorted, and counts what it left out", async () => {
    const packed = await pack([file("b.py", "print(2)"), file("a.py", "print(1)"), file(".git/HEAD")]);
    const entries = unzipSync(packed.zip);
    expect(Object.keys(entries)).toEqual(["a.py", "b.py"]);
    expect(strFromU8(entries["a.py"])).toBe("print(1)");
    expect([packed.files, packed.skipped]).toEqual([2, 1]);
  });

  it("gives the same archive for the same files", async () => {
    const one = await pack([file("a.py", "1")]);
    const two = await pack([file("a.py", "1")]);
    expect(one.zip).toEqual(two.zip);
  });

  it("refuses an archive over the limit, naming both sizes", async () => {
    const random = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24);
    const big: SourceFile = { path: "blob.bin", size: random.length, read: async () => random };
    await expect(pack([big], 1024)).rejects.toThrow(/over the 1\.0 KB upload limit/);
  });

  it("refuses a folder with nothing to upload", async () => {
    await expect(pack([file("node_modules/a.js")])).rejects.toBeInstanceOf(PackError);
  });
});
