// Packing a dropped folder into a zip in the browser, with the CLI's rules: version control
// folders, dependency folders and virtualenvs are left out, .gitignore files are honoured
// (at any depth, for the paths below them), and the archive must fit the upload limit.
import { zipSync, type Zippable } from "fflate";

export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/** Folders never packed, whatever .gitignore says. */
export const SKIPPED_DIRS = new Set([
  ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".nox",
  ".mypy_cache", ".pytest_cache", ".ruff_cache", ".terraform", ".next", ".DS_Store",
]);

export interface Rule {
  base: string; // folder of the .gitignore, "" for the top
  regex: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

function globToRegex(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const slashAfter = glob[i + 2] === "/";
        out += slashAfter ? "(?:.*/)?" : ".*";
        i += slashAfter ? 2 : 1;
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) out += "\\[";
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        out += `[${body}]`;
        i = end;
      }
    } else if (c === "\\" && i + 1 < glob.length) out += "\\" + glob[++i];
    else out += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return out;
}

/** The rules of one .gitignore file found in folder `base`. */
export function parseGitignore(text: string, base = ""): Rule[] {
  const rules: Rule[] = [];
  for (let line of text.split(/\r?\n/)) {
    line = line.replace(/(?<!\\)\s+$/, "");
    if (!line || line.startsWith("#")) continue;
    let negate = false;
    if (line.startsWith("!")) {
      negate = true;
      line = line.slice(1);
    }
    if (line.startsWith("\\")) line = line.slice(1);
    const dirOnly = line.endsWith("/");
    if (dirOnly) line = line.slice(0, -1);
    if (!line) continue;
    const anchored = line.includes("/");
    if (line.startsWith("/")) line = line.slice(1);
    const body = globToRegex(line);
    const regex = new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`);
    rules.push({ base, regex, negate, dirOnly });
  }
  return rules;
}

function matches(rules: Rule[], path: string, isDir: boolean): boolean {
  let ignored = false;
  for (const rule of rules) {
    if (rule.dirOnly && !isDir) continue;
    if (rule.base && !path.startsWith(rule.base + "/")) continue;
    const relative = rule.base ? path.slice(rule.base.length + 1) : path;
    if (rule.regex.test(relative)) ignored = !rule.negate;
  }
  return ignored;
}

/** Whether `path` (a file) is left out: by a skipped folder, a virtualenv or a rule. */
export function isIgnored(path: string, rules: Rule[], venvDirs: Set<string> = new Set()): boolean {
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join("/");
    if (SKIPPED_DIRS.has(parts[i - 1]) || venvDirs.has(dir)) return true;
    // A file under an ignored folder stays out (git cannot re-include it either).
    if (matches(rules, dir, true)) return true;
  }
  return matches(rules, path, false);
}

export interface SourceFile {
  path: string; // relative, "/"-separated
  size: number;
  read: () => Promise<Uint8Array>;
}

export interface Selection {
  kept: SourceFile[];
  skipped: number;
}

/** The files that go into the archive (paths sorted for a stable zip). */
export async function selectFiles(files: SourceFile[]): Promise<Selection> {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const venvDirs = new Set<string>();
  const rules: Rule[] = [];
  for (const file of files) {
    const parts = file.path.split("/");
    const name = parts[parts.length - 1];
    const dir = parts.slice(0, -1).join("/");
    if (name === "pyvenv.cfg") venvDirs.add(dir);
  }
  // Shallow .gitignore files first: a deeper one's rules come later and win.
  const ignores = [...byPath.keys()]
    .filter((p) => p === ".gitignore" || p.endsWith("/.gitignore"))
    .sort((a, b) => a.split("/").length - b.split("/").length);
  for (const path of ignores) {
    const base = path.split("/").slice(0, -1).join("/");
    if (isIgnored(path, rules, venvDirs)) continue;
    const text = new TextDecoder().decode(await byPath.get(path)!.read());
    rules.push(...parseGitignore(text, base));
  }
  const kept = files
    .filter((f) => !isIgnored(f.path, rules, venvDirs))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { kept, skipped: files.length - kept.length };
}

export class PackError extends Error {
  override name = "PackError";
}

export interface Packed {
  zip: Uint8Array;
  files: number;
  skipped: number;
  bytes: number; // before compression
}

const FIXED_TIME = new Date("2000-01-01T00:00:00Z"); // same files, same archive

/** Zip the kept files; refuses an empty selection and an archive over `maxBytes`. */
export async function pack(files: SourceFile[], maxBytes = MAX_UPLOAD_BYTES): Promise<Packed> {
  const { kept, skipped } = await selectFiles(files);
  if (!kept.length) throw new PackError("nothing to upload: every file is ignored or the folder is empty");
  const raw = kept.reduce((sum, f) => sum + f.size, 0);
  if (raw > maxBytes * 20) {
    throw new PackError(`the files come to ${formatBytes(raw)}: far over the ${formatBytes(maxBytes)} upload limit`);
  }
  const tree: Zippable = {};
  for (const file of kept) tree[file.path] = [await file.read(), { mtime: FIXED_TIME }];
  const zip = zipSync(tree, { level: 6 });
  if (zip.length > maxBytes) {
    throw new PackError(
      `the archive is ${formatBytes(zip.length)}, over the ${formatBytes(maxBytes)} upload limit` +
        " (add large files to .gitignore)",
    );
  }
  return { zip, files: kept.length, skipped, bytes: raw };
}

/** Pack a zip as it is, after the same size check. */
export function checkZip(size: number, maxBytes = MAX_UPLOAD_BYTES): void {
  if (size === 0) throw new PackError("the zip file is empty");
  if (size > maxBytes) throw new PackError(`the zip is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} upload limit`);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}
