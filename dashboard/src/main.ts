// The dashboard: hash routes (#/login, #/projects, #/projects/<id>), one screen at a time.
import "./style.css";
import { zipSync } from "fflate";
import { Api, ApiError, apiBaseFrom, describeError, uploadPresigned } from "./api";
import { chartData, money, type CostSummary } from "./costs";
import { clear, h } from "./dom";
import { followLog, phaseTimings, phases, type LogPage } from "./follow";
import { highlight, languageOf } from "./highlight";
import { checkZip, formatBytes, pack, type SourceFile } from "./pack";
import { planGroups, planSentence, type PlanInfo } from "./plan";
import { canRollBack, nameProblem, releaseLine, shownValue, when, type ConfigEntry, type Release } from "./releases";

const api = new Api();
const main = document.getElementById("main")!;
const nav = document.getElementById("nav")!;
const footer = document.getElementById("status")!;
let generation = 0; // bumped on every screen change: stale async work stops drawing

api.onSignedOut = () => go("#/login");
api.onRate = (info) => {
  if (info.bucket === "default") footer.textContent = `${info.remaining} of ${info.limit} requests left in this window`;
};

function go(hash: string): void {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

function alertBox(): HTMLElement {
  return h("p", { class: "error", role: "alert" });
}

function showError(box: HTMLElement, error: unknown): void {
  box.textContent = describeError(error);
}

function busy<T>(button: HTMLButtonElement, work: () => Promise<T>): Promise<T | undefined> {
  button.disabled = true;
  return work().finally(() => (button.disabled = false)).catch(() => undefined);
}

function heading(text: string): HTMLElement {
  const el = h("h1", { tabindex: "-1" }, text);
  queueMicrotask(() => el.focus());
  return el;
}

// ---- account -------------------------------------------------------------------------

function authScreen(mode: "login" | "signup"): void {
  const error = alertBox();
  const email = h("input", { id: "email", type: "email", autocomplete: "email", required: true });
  const password = h("input", {
    id: "password", type: "password", required: true, minlength: mode === "signup" ? 12 : null,
    autocomplete: mode === "signup" ? "new-password" : "current-password",
  });
  const submit = h("button", { type: "submit" }, mode === "signup" ? "Sign up" : "Log in");
  const form = h("form", { class: "card narrow", "aria-labelledby": "auth-title" },
    h("label", { for: "email" }, "Email"), email,
    h("label", { for: "password" }, mode === "signup" ? "Password (12 characters or more)" : "Password"), password,
    submit, error,
    mode === "signup"
      ? h("p", {}, "Have an account? ", h("a", { href: "#/login" }, "Log in"))
      : h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Sign up")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    void busy(submit, async () => {
      try {
        if (mode === "signup") await api.signup(email.value, password.value);
        await api.login(email.value, password.value);
        go("#/projects");
      } catch (e) {
        showError(error, e);
      }
    });
  });
  const title = heading(mode === "signup" ? "Create your account" : "Log in");
  title.id = "auth-title";
  clear(main, title, form);
}

function drawNav(): void {
  if (!api.signedIn) return clear(nav);
  const out = h("button", { type: "button", class: "link" }, "Log out");
  out.addEventListener("click", () => void api.logout().finally(() => go("#/login")));
  clear(nav, h("a", { href: "#/projects" }, "Projects"), out);
}

// ---- projects ------------------------------------------------------------------------

interface Project { id: string; name: string; description: string; external_id: string; created_at: string }

async function projectsScreen(): Promise<void> {
  const mine = generation;
  const error = alertBox();
  const list = h("ul", { class: "projects", "aria-label": "Your projects" });
  const name = h("input", { id: "new-project", required: true, maxlength: 64 });
  const create = h("button", { type: "submit" }, "Create project");
  const form = h("form", { class: "row" }, h("label", { for: "new-project" }, "New project name"), name, create);
  clear(main, heading("Projects"), form, error, list);
  const draw = (projects: Project[]) => {
    if (mine !== generation) return;
    clear(list, ...(projects.length ? projects.map((p) => projectRow(p, error, load)) : [h("li", {}, "No projects yet.")]));
  };
  const load = async () => {
    try {
      draw((await api.call<{ projects: Project[] }>("GET", "/projects")).projects);
      error.textContent = ""; // an earlier refusal no longer applies
    } catch (e) {
      showError(error, e);
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    void busy(create, async () => {
      try {
        await api.call("POST", "/projects", { name: name.value.trim() });
        name.value = "";
        await load();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  await load();
}

function projectRow(p: Project, error: HTMLElement, reload: () => Promise<void>): HTMLElement {
  const rename = h("input", { "aria-label": `New name for ${p.name}`, value: p.name, maxlength: 64 });
  const save = h("button", { type: "button" }, "Rename");
  const del = h("button", { type: "button", class: "danger" }, "Delete");
  save.addEventListener("click", () => void busy(save, async () => {
    try {
      await api.call("PATCH", `/projects/${p.id}`, { name: rename.value.trim() });
      await reload();
    } catch (e) {
      showError(error, e);
    }
  }));
  del.addEventListener("click", () => {
    if (del.dataset.armed !== "1") {
      del.dataset.armed = "1";
      del.textContent = `Really delete ${p.name}?`;
      return;
    }
    void busy(del, async () => {
      try {
        await api.call("DELETE", `/projects/${p.id}`);
        await reload();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return h("li", { class: "card" },
    h("a", { href: `#/projects/${p.id}`, class: "project-name" }, p.name),
    h("span", { class: "muted" }, ` created ${p.created_at.slice(0, 10)}`),
    h("div", { class: "row" }, rename, save, del),
  );
}

// ---- a project: upload, analysis, profile, targets, bundle, deploy --------------------

interface Job { id: string; status: string; progress: number; progress_message?: string | null; error?: { code: string; message: string } | null; profile?: Profile | null }
interface Evidence { file: string; line?: number | null; detail?: string | null }
interface Profile {
  languages: { primary: string | null };
  apps: { name: string; path: string; language: string; kind: string; framework?: { name: string; evidence: Evidence[] } | null; port?: { value: number; source: string; evidence: Evidence[] } | null; start_command?: string | null; build_command?: string | null; evidence: Evidence[] }[];
  services: { kind: string; evidence: Evidence[] }[];
  env_vars: { name: string; is_secret: boolean; evidence: Evidence[] }[];
  secrets: { type: string; file: string; line: number; masked: string }[];
  warnings: string[];
}
interface Bundle { id: string; target: string; files: string[]; recommendation: { target: string; reasons: string[] }; cost: CostSummary; warnings: string[]; contents?: Record<string, string> | null }
interface Deployment {
  id: string; status: string; action: string; created_at: string; approved_at?: string | null; finished_at?: string | null;
  progress_message?: string | null; queue_position?: number | null;
  plan?: PlanInfo | null;
  cost?: { monthly_usd: number | null; note?: string | null } | null;
  outputs?: { name: string; value: unknown; sensitive: boolean }[] | null;
  error?: { code: string; message: string } | null;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
// When this page first saw each deployment in each status (ms): the plan phase's timing.
const seenStatus = new Map<string, Record<string, number>>();

async function filesFromDrop(items: DataTransferItemList): Promise<{ files: SourceFile[]; zip: File | null }> {
  const entries = [...items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => !!e);
  const files: SourceFile[] = [];
  if (entries.length === 1 && entries[0].isFile && entries[0].name.toLowerCase().endsWith(".zip")) {
    const file = await new Promise<File>((res, rej) => (entries[0] as FileSystemFileEntry).file(res, rej));
    return { files, zip: file };
  }
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isFile) {
      const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
      files.push(fromFile(path, file));
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const child of batch) await walk(child, path);
      }
    }
  };
  for (const entry of entries) await walk(entry, "");
  return { files, zip: null };
}

function fromFile(path: string, file: File): SourceFile {
  return { path, size: file.size, read: async () => new Uint8Array(await file.arrayBuffer()) };
}

/** A drop zone with a zip picker and a folder picker (keyboard users use the pickers). */
function dropZone(id: string, title: string, onArchive: (zip: Blob, note: string) => void, error: HTMLElement): HTMLElement {
  const zipInput = h("input", { id: `${id}-zip`, type: "file", accept: ".zip,application/zip" });
  const dirInput = h("input", { id: `${id}-dir`, type: "file", webkitdirectory: true, multiple: true });
  const zone = h("div", { class: "drop", id: `${id}-zone` },
    h("p", {}, title),
    h("div", { class: "row" },
      h("label", { for: `${id}-zip` }, "Choose a zip"), zipInput,
      h("label", { for: `${id}-dir` }, "or a folder"), dirInput),
  );
  const handle = async (files: SourceFile[], zip: File | null) => {
    error.textContent = "";
    try {
      if (zip) {
        checkZip(zip.size);
        onArchive(zip, `${zip.name} (${formatBytes(zip.size)})`);
      } else {
        const packed = await pack(files);
        onArchive(new Blob([packed.zip as BlobPart], { type: "application/zip" }),
          `${packed.files} files packed (${formatBytes(packed.zip.length)}), ${packed.skipped} left out`);
      }
    } catch (e) {
      showError(error, e);
    }
  };
  zipInput.addEventListener("change", () => {
    const file = zipInput.files?.[0];
    if (file) void handle([], file);
  });
  dirInput.addEventListener("change", () => {
    const list = [...(dirInput.files ?? [])];
    void handle(list.map((f) => fromFile(f.webkitRelativePath || f.name, f)), null);
  });
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer) void filesFromDrop(e.dataTransfer.items).then(({ files, zip }) => handle(files, zip));
  });
  return zone;
}

function evidence(list: Evidence[] | undefined): HTMLElement | null {
  if (!list?.length) return null;
  return h("span", { class: "evidence" }, " — ",
    list.slice(0, 3).map((e, i) => h("code", {}, (i ? ", " : "") + e.file + (e.line ? `:${e.line}` : ""))));
}

function profileView(profile: Profile): HTMLElement {
  return h("section", { class: "card", "aria-labelledby": "profile-title", id: "profile" },
    h("h2", { id: "profile-title" }, "Stack profile"),
    h("p", {}, `Primary language: ${profile.languages.primary ?? "none found"}`),
    h("h3", {}, "Apps"),
    h("ul", {}, profile.apps.map((a) => h("li", {},
      h("strong", {}, a.name), ` (${a.kind}, ${a.language}${a.framework ? `, ${a.framework.name}` : ""}) in `, h("code", {}, a.path),
      evidence(a.framework?.evidence ?? a.evidence),
      h("ul", {},
        a.port ? h("li", {}, `port ${a.port.value} (${a.port.source})`, evidence(a.port.evidence)) : null,
        a.build_command ? h("li", {}, "build: ", h("code", {}, a.build_command)) : null,
        a.start_command ? h("li", {}, "start: ", h("code", {}, a.start_command)) : null)))),
    profile.services.length ? [h("h3", {}, "Services"), h("ul", {}, profile.services.map((s) => h("li", {}, s.kind, evidence(s.evidence))))] : null,
    profile.env_vars.length ? [h("h3", {}, "Environment"), h("ul", {}, profile.env_vars.map((v) =>
      h("li", {}, h("code", {}, v.name), v.is_secret ? h("span", { class: "tag" }, " secret") : null, evidence(v.evidence))))] : null,
    h("h3", {}, "Secrets found in the code"),
    profile.secrets.length
      ? h("ul", { id: "secrets" }, profile.secrets.map((s) => h("li", {}, `${s.type}: `, h("code", {}, s.masked), " at ", h("code", {}, `${s.file}:${s.line}`))))
      : h("p", {}, "None."),
    profile.warnings.length ? [h("h3", {}, "Warnings"), h("ul", { class: "warnings" }, profile.warnings.map((w) => h("li", {}, w)))] : null,
  );
}

function costChart(bundle: Bundle): HTMLElement {
  const bars = chartData(bundle.cost, bundle.recommendation.target);
  const tip = h("div", { class: "tip", role: "tooltip", id: "cost-tip", hidden: true });
  const rows = bars.map((bar) => {
    const row = h("li", { class: `bar-row${bar.recommended ? " recommended" : ""}`, tabindex: "0", "aria-label": bar.label, "aria-describedby": "cost-tip" },
      h("span", { class: "bar-name" }, bar.target, bar.recommended ? h("span", { class: "tag" }, " recommended") : null),
      bar.fits
        ? h("span", { class: "bars" },
          barEl("list", bar.listPct, `${money(bar.list)} list`),
          barEl("free", bar.freePct, `${money(bar.free)} after free tier`))
        : h("span", { class: "muted" }, `does not fit: ${bar.whyNot.join("; ")}`),
    );
    const show = () => {
      if (!bar.fits) return;
      clear(tip, h("strong", {}, `${bar.target} per resource`),
        h("table", {}, h("tr", {}, h("th", {}, "resource"), h("th", {}, "list"), h("th", {}, "free tier")),
          bar.lines.map((l) => h("tr", {}, h("td", {}, l.resource), h("td", {}, l.list), h("td", {}, l.free)))));
      tip.hidden = false;
      row.append(tip);
    };
    const hide = () => (tip.hidden = true);
    row.addEventListener("mouseenter", show);
    row.addEventListener("focus", show);
    row.addEventListener("mouseleave", hide);
    row.addEventListener("blur", hide);
    return row;
  });
  return h("div", { class: "chart", id: "cost-chart" },
    h("p", { class: "legend" }, h("span", { class: "key list" }), " list price ", h("span", { class: "key free" }), " after the free tier (a month)"),
    h("ul", { class: "bar-list" }, rows),
    h("p", { class: "muted" }, `Prices as of ${bundle.cost.prices_as_of}. `, bundle.cost.assumptions.join(" ")));
}

function barEl(kind: string, pct: number, text: string): HTMLElement {
  const fill = h("span", { class: `bar ${kind}` });
  fill.style.width = `max(${pct * 0.7}%, 3px)`; // room for the figure beside the longest bar
  return h("span", { class: "bar-line" }, fill, h("span", { class: "bar-text" }, text));
}

function tokensTo(pre: HTMLElement, path: string, text: string): void {
  clear(pre, ...highlight(text, languageOf(path)).map((t) => (t.kind === "plain" ? t.text : h("span", { class: `tok-${t.kind}` }, t.text))));
}

function bundleView(bundle: Bundle): HTMLElement {
  const contents = bundle.contents ?? {};
  const pre = h("pre", { class: "code", id: "file-view", tabindex: "0", "aria-label": "File contents" });
  const title = h("p", { class: "muted", id: "file-title" }, "Choose a file.");
  type Tree = Map<string, Tree | string>;
  const root: Tree = new Map();
  for (const path of [...bundle.files].sort()) {
    const parts = path.split("/");
    let node = root;
    for (const dir of parts.slice(0, -1)) {
      if (!node.has(dir)) node.set(dir, new Map());
      node = node.get(dir) as Tree;
    }
    node.set(parts[parts.length - 1], path);
  }
  const draw = (tree: Tree): HTMLElement => h("ul", {}, [...tree].map(([name, value]) => {
    if (typeof value !== "string") return h("li", {}, h("span", { class: "folder" }, `${name}/`), draw(value));
    const button = h("button", { type: "button", class: "file", "data-path": value }, name);
    button.addEventListener("click", () => {
      for (const other of button.closest("nav")?.querySelectorAll("[aria-current]") ?? []) other.removeAttribute("aria-current");
      button.setAttribute("aria-current", "true");
      title.textContent = value;
      tokensTo(pre, value, contents[value] ?? "(not shown)");
    });
    return h("li", {}, button);
  }));
  const download = h("button", { type: "button" }, "Download as zip");
  download.addEventListener("click", () => {
    const enc = new TextEncoder();
    const zip = zipSync(Object.fromEntries(Object.entries(contents).map(([p, t]) => [p, enc.encode(t)])));
    const url = URL.createObjectURL(new Blob([zip as BlobPart], { type: "application/zip" }));
    const a = h("a", { href: url, download: `bundle-${bundle.id}.zip` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  return h("section", { class: "card", "aria-labelledby": "bundle-title", id: "bundle" },
    h("h2", { id: "bundle-title" }, `Bundle for ${bundle.target}`),
    bundle.warnings.length ? h("ul", { class: "warnings" }, bundle.warnings.map((w) => h("li", {}, w))) : null,
    download,
    h("div", { class: "split" }, h("nav", { class: "tree", "aria-label": "Bundle files" }, draw(root)), h("div", {}, title, pre)));
}

async function projectScreen(projectId: string): Promise<void> {
  const mine = generation;
  const error = alertBox();
  let project: Project;
  try {
    project = await api.call<Project>("GET", `/projects/${projectId}`);
  } catch (e) {
    clear(main, heading("Project"), error);
    return showError(error, e);
  }
  const live = () => mine === generation;
  const uploadBar = h("progress", { id: "upload-progress", max: 100, value: 0, "aria-label": "Upload" });
  const analysisBar = h("progress", { id: "analysis-progress", max: 100, value: 0, "aria-label": "Analysis" });
  const stateLine = h("p", { id: "analysis-state", "aria-live": "polite" });
  const packNote = h("p", { id: "pack-note", class: "muted" });
  const profileSlot = h("div");
  const targetsSlot = h("div");
  const bundleSlot = h("div");
  const deploySlot = h("div");
  let currentBundle: { id: string; label: string } | null = null;

  const upload = async (zip: Blob, note: string) => {
    packNote.textContent = note;
    stateLine.textContent = "Uploading…";
    const created = await api.call<{ id: string; upload: { url: string; fields: Record<string, string>; max_bytes: number } }>(
      "POST", `/projects/${projectId}/uploads`, { format: "zip" });
    checkZip(zip.size, created.upload.max_bytes);
    await uploadPresigned(created.upload.url, created.upload.fields, zip, (f) => (uploadBar.value = Math.round(f * 100)));
    stateLine.textContent = "Uploaded; analysis queued…";
    let job = await api.call<Job>("POST", `/projects/${projectId}/analyses`, { upload_id: created.id });
    while (!TERMINAL.has(job.status) && live()) {
      analysisBar.value = job.progress;
      stateLine.textContent = `Analysis ${job.status}${job.progress_message ? `: ${job.progress_message}` : ""}`;
      job = await api.call<Job>("GET", `/projects/${projectId}/analyses/${job.id}?wait=20`, undefined, "status");
    }
    analysisBar.value = job.status === "succeeded" ? 100 : analysisBar.value;
    stateLine.textContent = `Analysis ${job.status}${job.error ? `: ${job.error.message}` : ""}`;
    if (job.status !== "succeeded" || !job.profile || !live()) return;
    clear(profileSlot, profileView(job.profile));
    await generate(job.id, {});
  };

  const generate = async (analysisId: string, choice: Record<string, unknown>) => {
    const created = await api.call<Bundle>("POST", `/projects/${projectId}/templates`, { analysis_id: analysisId, ...choice });
    const bundle = await api.call<Bundle>("GET", `/projects/${projectId}/templates/${created.id}`, undefined, "status");
    if (!live()) return;
    clear(targetsSlot, targetsView(analysisId, bundle));
    clear(bundleSlot, bundleView(bundle));
    currentBundle = { id: bundle.id, label: `generated bundle for ${bundle.target}` };
    clear(deploySlot, deployView(projectId, currentBundle));
  };

  const targetsView = (analysisId: string, bundle: Bundle): HTMLElement => {
    const err = alertBox();
    const select = (id: string, label: string, options: string[], value: string) => [
      h("label", { for: id }, label),
      h("select", { id }, options.map((o) => h("option", { value: o, selected: o === value }, o))),
    ];
    const form = h("form", { class: "options" },
      select("opt-target", "Target", bundle.cost.targets.filter((t) => t.fits).map((t) => t.target), bundle.target),
      select("opt-instance", "Instance size", ["t3.micro", "t4g.micro", "t3.small", "t4g.small"], "t3.micro"),
      select("opt-db", "Database size", ["db.t4g.micro", "db.t4g.small"], "db.t4g.micro"),
      h("label", { for: "opt-domain" }, "Domain (optional)"), h("input", { id: "opt-domain", placeholder: "app.example.com" }),
      h("button", { type: "submit" }, "Generate again"), err);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = (id: string) => (form.querySelector(`#${id}`) as HTMLInputElement).value.trim();
      const options: Record<string, string> = { instance_type: value("opt-instance"), db_instance_class: value("opt-db") };
      if (value("opt-domain")) options.domain = value("opt-domain");
      void generate(analysisId, { target: value("opt-target"), options }).catch((e) => showError(err, e));
    });
    return h("section", { class: "card", "aria-labelledby": "targets-title", id: "targets" },
      h("h2", { id: "targets-title" }, "Targets and monthly cost"),
      costChart(bundle),
      h("h3", {}, `Recommended: ${bundle.recommendation.target}`),
      h("ul", { id: "reasons" }, bundle.recommendation.reasons.map((r) => h("li", {}, r))),
      form);
  };

  const ownTerraform = async (zip: Blob, note: string) => {
    tfState.textContent = `${note}; uploading…`;
    const created = await api.call<{ id: string; upload: { url: string; fields: Record<string, string>; max_bytes: number } }>(
      "POST", `/projects/${projectId}/bundles`, { format: "zip" });
    checkZip(zip.size, created.upload.max_bytes);
    await uploadPresigned(created.upload.url, created.upload.fields, zip, (f) => (tfBar.value = Math.round(f * 100)));
    const done = await api.call<{ id: string; status: string }>("POST", `/projects/${projectId}/bundles/${created.id}/complete`);
    tfState.textContent = `${note}: Terraform bundle ${done.status}.`;
    currentBundle = { id: done.id, label: "your Terraform bundle" };
    if (live()) clear(deploySlot, deployView(projectId, currentBundle));
  };
  const historyList = h("ul", { class: "history", id: "history", "aria-label": "Deployments of this project" });
  const historyView = h("div", { id: "history-view" });
  const historyError = alertBox();
  const loadHistory = async () => {
    try {
      const { deployments } = await api.call<{ deployments: Deployment[] }>("GET", `/projects/${projectId}/deployments`, undefined, "status");
      if (!live()) return;
      clear(historyList, ...(deployments.length ? deployments.map((d) => {
        const open = h("button", { type: "button", class: "link-button", "aria-label": `Open ${d.action} ${d.id}` }, "Open");
        open.addEventListener("click", () => void follow(projectId, d, historyView));
        return h("li", {}, h("code", {}, d.id), ` ${d.action}, ${d.status}, ${d.created_at.slice(0, 16).replace("T", " ")} `, open);
      }) : [h("li", {}, "None yet.")]));
    } catch (e) {
      showError(historyError, e);
    }
  };
  const tfBar = h("progress", { id: "tf-progress", max: 100, value: 0, "aria-label": "Terraform upload" });
  const tfState = h("p", { id: "tf-state", "aria-live": "polite" });
  const tfError = alertBox();

  clear(main,
    heading(project.name),
    h("section", { class: "card", "aria-labelledby": "new-title" },
      h("h2", { id: "new-title" }, "New deployment"),
      dropZone("app", "Drop a zip or a folder of your app here.", (zip, note) => void upload(zip, note).catch((e) => showError(error, e)), error),
      h("div", { class: "row" }, h("span", {}, "Upload"), uploadBar, h("span", {}, "Analysis"), analysisBar),
      packNote, stateLine, error),
    profileSlot, targetsSlot, bundleSlot,
    h("section", { class: "card", "aria-labelledby": "tf-title" },
      h("h2", { id: "tf-title" }, "Or deploy your own Terraform"),
      dropZone("tf", "Drop a zip or a folder of Terraform (.tf at the top or in infra/).",
        (zip, note) => void ownTerraform(zip, note).catch((e) => showError(tfError, e)), tfError),
      tfBar, tfState, tfError),
    deploySlot,
    h("section", { class: "card", "aria-labelledby": "history-title" },
      h("h2", { id: "history-title" }, "Deployments"), historyList, historyError, historyView),
    releasesPanel(projectId, live),
    configPanel(projectId, live));
  await loadHistory();
}

// ---- a project's releases and app config ------------------------------------------------

function releasesPanel(projectId: string, live: () => boolean): HTMLElement {
  const list = h("ul", { class: "history", id: "releases", "aria-label": "Releases of this project" });
  const note = h("p", { id: "releases-note", "aria-live": "polite" });
  const error = alertBox();
  const load = async () => {
    try {
      const { releases } = await api.call<{ releases: Release[] }>("GET", `/projects/${projectId}/releases`, undefined, "status");
      if (!live()) return;
      clear(list, ...(releases.length ? releases.map((r) => {
        const item = h("li", { "data-status": r.status }, h("code", {}, r.id), ` ${releaseLine(r)} `,
          r.url && r.status === "live" ? h("a", { href: r.url, rel: "noreferrer noopener", target: "_blank" }, r.url) : null);
        if (canRollBack(r)) {
          const back = h("button", { type: "button", class: "link-button", "aria-label": `Roll back to ${r.image_tag} (${r.id})` }, "Rollback");
          back.addEventListener("click", () => void busy(back, async () => {
            error.textContent = "";
            try {
              const queued = await api.call<{ job_id: string }>("POST", `/projects/${projectId}/releases/${r.id}/rollback`);
              note.textContent = `Rolling back to ${r.image_tag} (job ${queued.job_id}).`;
              await load();
            } catch (e) {
              showError(error, e);
            }
          }));
          item.append(back);
        }
        return item;
      }) : [h("li", {}, "No releases yet: a generated bundle is released after its apply.")]));
    } catch (e) {
      showError(error, e);
    }
  };
  const refresh = h("button", { type: "button" }, "Refresh releases");
  refresh.addEventListener("click", () => void busy(refresh, load));
  void load();
  return h("section", { class: "card", "aria-labelledby": "releases-title", id: "releases-panel" },
    h("h2", { id: "releases-title" }, "Releases"), list, refresh, note, error);
}

function configPanel(projectId: string, live: () => boolean): HTMLElement {
  const base = `/projects/${projectId}/config`;
  const table = h("table", { id: "config", "aria-label": "App config" });
  const note = h("p", { id: "config-note", "aria-live": "polite" });
  const error = alertBox();
  const name = h("input", { id: "config-name", required: true, maxlength: 128, autocomplete: "off", placeholder: "LOG_LEVEL" });
  const value = h("input", { id: "config-value", required: true, maxlength: 4096, autocomplete: "off" });
  const secret = h("input", { id: "config-secret", type: "checkbox" });
  const restart = h("input", { id: "config-restart", type: "checkbox", checked: true });
  const add = h("button", { type: "submit" }, "Set");
  secret.addEventListener("change", () => (value.type = secret.checked ? "password" : "text"));
  const restartQuery = () => (restart.checked ? "" : "?restart=false");
  const changed = (answer: { changed: string[]; restarting: boolean; job_id?: string | null }, what: string) => {
    note.textContent = `${what} ${answer.changed.join(", ")}` + (answer.restarting
      ? `; restarting the app (job ${answer.job_id}).` : "; it takes effect at the next release.");
  };
  const load = async () => {
    try {
      const got = await api.call<{ stack: string; prefix: string; entries: ConfigEntry[] }>("GET", base, undefined, "status");
      if (!live()) return;
      clear(table, h("caption", { class: "muted" }, `Stack ${got.stack}, in your account's SSM under ${got.prefix}`),
        h("tr", {}, h("th", {}, "Name"), h("th", {}, "Kind"), h("th", {}, "Value"), h("th", {}, "Updated"), h("th", {}, "")),
        ...got.entries.map((e) => {
          let remove: HTMLButtonElement | null = null;
          if (e.kind !== "generated") {
            const button = h("button", { type: "button", class: "link-button", "aria-label": `Remove ${e.name}` }, "Remove");
            button.addEventListener("click", () => void busy(button, async () => {
              error.textContent = "";
              try {
                changed(await api.call("DELETE", `${base}/${encodeURIComponent(e.name)}${restartQuery()}`), "Removed");
                await load();
              } catch (err) {
                showError(error, err);
              }
            }));
            remove = button;
          }
          return h("tr", { "data-name": e.name, "data-kind": e.kind },
            h("td", {}, h("code", {}, e.name)), h("td", {}, e.kind), h("td", {}, shownValue(e)),
            h("td", {}, when(e.updated_at_epoch)), h("td", {}, remove));
        }));
      error.textContent = "";
    } catch (e) {
      if (!live()) return;
      // Nothing live yet is a state, not a failure: said plainly, not as an alert.
      if (e instanceof ApiError && e.code === "no_live_deployment") clear(table, h("caption", { class: "muted", id: "config-empty" }, e.message));
      else {
        clear(table);
        showError(error, e);
      }
    }
  };
  const form = h("form", { class: "options", id: "config-form" },
    h("label", { for: "config-name" }, "Name"), name,
    h("label", { for: "config-value" }, "Value"), value,
    h("label", { for: "config-secret" }, h("span", {}, "Secret (write-only)")), secret,
    h("label", { for: "config-restart" }, h("span", {}, "Restart the app now")), restart,
    add);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    const key = name.value.trim();
    const problem = nameProblem(key);
    if (problem) return void (error.textContent = problem);
    const body = secret.checked ? { secrets: { [key]: value.value } } : { values: { [key]: value.value } };
    void busy(add, async () => {
      try {
        changed(await api.call("PUT", `${base}${restartQuery()}`, body), "Set");
        name.value = "";
        value.value = "";
        await load();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  void load();
  return h("section", { class: "card", "aria-labelledby": "config-title", id: "config-panel" },
    h("h2", { id: "config-title" }, "Config and secrets"),
    h("p", { class: "muted" }, "Environment variables of the app. Secrets are stored as SecureStrings in your account and never shown again."),
    table, form, note, error);
}

function deployView(projectId: string, bundle: { id: string; label: string }): HTMLElement {
  const error = alertBox();
  const trust = h("pre", { class: "code", id: "trust-policy", tabindex: "0", "aria-label": "Trust policy" }, "…");
  const copy = h("button", { type: "button" }, "Copy trust policy");
  const roleArn = h("input", { id: "role-arn", placeholder: "arn:aws:iam::123456789012:role/autostack-deploy", required: true, size: 40 });
  const region = h("input", { id: "region", value: "us-east-1", required: true });
  const plan = h("button", { type: "submit" }, "Plan");
  const run = h("div", { id: "deployment" });
  const form = h("form", { class: "options" },
    h("label", { for: "role-arn" }, "Deploy role ARN"), roleArn,
    h("label", { for: "region" }, "Region"), region, plan, error);
  const section = h("section", { class: "card", "aria-labelledby": "deploy-title", id: "deploy" },
    h("h2", { id: "deploy-title" }, `Deploy ${bundle.label}`),
    h("details", {}, h("summary", {}, "The deploy role to create in your account"), trust, copy, h("div", { id: "role-help" })),
    form, run);
  void api.call<{ trust_policy: unknown; instructions: string[] }>("GET", `/projects/${projectId}/deploy-role?bundle_id=${bundle.id}`)
    .then((role) => {
      trust.textContent = JSON.stringify(role.trust_policy, null, 2);
      clear(section.querySelector("#role-help")!, h("ol", {}, role.instructions.map((i) => h("li", {}, i))));
    })
    .catch((e) => showError(error, e));
  copy.addEventListener("click", () => {
    const selectIt = () => {
      copy.textContent = "Press Ctrl+C to copy the selected policy";
      getSelection()?.selectAllChildren(trust);
    };
    if (!navigator.clipboard) return selectIt();
    void navigator.clipboard.writeText(trust.textContent ?? "").then(() => (copy.textContent = "Copied"), selectIt);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    void busy(plan, async () => {
      try {
        const d = await api.call<Deployment>("POST", `/projects/${projectId}/deployments`, {
          bundle_id: bundle.id, role_arn: roleArn.value.trim(), region: region.value.trim(),
        });
        await follow(projectId, d, run);
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return section;
}

/** Draw a deployment and follow its log until it settles (or waits for approval). */
async function follow(projectId: string, first: Deployment, slot: HTMLElement, logText = "", offset = 0): Promise<void> {
  const mine = generation;
  const path = `/projects/${projectId}/deployments/${first.id}`;
  const error = alertBox();
  const status = h("p", { id: "deploy-status", "aria-live": "polite" });
  const details = h("div");
  const log = h("pre", { class: "code log", id: "deploy-log", tabindex: "0", "aria-label": "Deployment log" }, logText);
  clear(slot, h("h3", {}, `${first.action === "destroy" ? "Destroy" : "Deployment"} ${first.id}`), status, details, h("h4", {}, "Log"), log, error);
  log.scrollTop = log.scrollHeight; // drawn again (approved): show where the log is now
  let d = first;
  const seen = seenStatus.get(first.id) ?? {};
  seenStatus.set(first.id, seen);
  const draw = () => {
    seen[d.status] ??= Date.now();
    status.textContent = `Status: ${d.status}` + (d.queue_position ? ` (place in line: ${d.queue_position})` : "") +
      (d.progress_message ? ` — ${d.progress_message}` : "");
    status.dataset.status = d.status;
    clear(details, ...deploymentDetails(projectId, d, slot, () => log.textContent ?? "", () => offset, error));
  };
  draw();
  const page = (after: number, wait: number) => api.call<LogPage>("GET", `${path}/logs?after=${after}&wait=${wait}`, undefined, "status");
  try {
    const result = await followLog(page, offset, (text) => {
      // Keep to the end only for a reader who is there: one scrolled up to read stays put.
      const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      log.append(text);
      if (atEnd) log.scrollTop = log.scrollHeight;
    }, async (s) => {
      seen[s] ??= Date.now();
      if (s !== d.status && mine === generation) {
        d = await api.call<Deployment>("GET", path, undefined, "status");
        draw();
      }
    }, { signal: abortOnLeave(mine) });
    offset = result.next;
    if (mine !== generation) return;
    d = await api.call<Deployment>("GET", path, undefined, "status");
    draw();
  } catch (e) {
    showError(error, e);
  }
}

function abortOnLeave(mine: number): AbortSignal {
  const controller = new AbortController();
  const check = () => (mine !== generation ? controller.abort() : setTimeout(check, 1000));
  check();
  return controller.signal;
}

function deploymentDetails(projectId: string, d: Deployment, slot: HTMLElement, logText: () => string, offset: () => number, error: HTMLElement): (Node | string)[] {
  const path = `/projects/${projectId}/deployments/${d.id}`;
  const out: (Node | string)[] = [];
  if (d.plan) {
    const p = d.plan;
    out.push(h("div", { id: "plan", class: "plan" },
      h("p", { id: "plan-sentence" }, h("strong", {}, planSentence(p))),
      h("p", { class: "muted" }, `Terraform: ${p.headline}`),
      p.warnings.length ? h("ul", { class: "warnings", "aria-label": "Plan warnings" }, p.warnings.map((w) => h("li", {}, w))) : null,
      planGroups(p).map((g) => h("section", { class: `plan-group act-${g.action}`, "aria-label": g.title },
        h("h5", {}, g.danger ? "⚠ " : "", g.title),
        h("ul", {}, g.items.map((r) => h("li", {},
          h("code", { class: "symbol", "aria-hidden": "true" }, g.symbol), " ", r.description,
          r.reason ? h("span", { class: "muted" }, ` (${r.reason})`) : null))))),
      d.cost?.monthly_usd != null ? h("p", {}, `Estimated ${money(d.cost.monthly_usd)} a month.`) : d.cost?.note ? h("p", { class: "muted" }, d.cost.note) : null));
  }
  if (d.status === "planned") {
    const approve = h("button", { type: "button", id: "approve" }, d.action === "destroy" ? "Approve destroy" : "Approve and apply");
    const cancel = h("button", { type: "button", class: "danger" }, "Cancel");
    approve.addEventListener("click", () => void busy(approve, async () => {
      try {
        const next = await api.call<Deployment>("POST", `${path}/approve`);
        await follow(projectId, next, slot, logText(), offset());
      } catch (e) {
        showError(error, e);
      }
    }));
    cancel.addEventListener("click", () => void busy(cancel, async () => {
      try {
        await api.call("POST", `${path}/cancel`);
        await follow(projectId, await api.call<Deployment>("GET", path, undefined, "status"), slot, logText(), offset());
      } catch (e) {
        showError(error, e);
      }
    }));
    out.push(h("div", { class: "row" }, approve, cancel));
  }
  if (["queued", "planning", "applying"].includes(d.status)) {
    const cancel = h("button", { type: "button", class: "danger" }, "Cancel");
    cancel.addEventListener("click", () => void api.call("POST", `${path}/cancel`).catch((e) => showError(error, e)));
    out.push(cancel);
  }
  out.push(h("ol", { id: "phases", class: "phases", "aria-label": "Phases" },
    phases(d, seenStatus.get(d.id)).map((p) => h("li", { class: `phase ${p.state.replace(/ /g, "-")}` },
      h("strong", {}, p.name), `: ${p.state}`, p.seconds !== null ? ` (${p.seconds} s)` : null))));
  const total = phaseTimings(d).find((t) => t.phase === "total")?.seconds ?? null;
  if (total !== null) out.push(h("p", { class: "muted", id: "timings" }, `From plan request to done: ${total} s`));
  if (d.outputs?.length) {
    out.push(h("dl", { id: "outputs" }, d.outputs.flatMap((o) => [
      h("dt", {}, o.name),
      h("dd", {}, o.sensitive ? "(sensitive, hidden)" : typeof o.value === "string" && /^https?:\/\//.test(o.value)
        ? h("a", { href: o.value, rel: "noreferrer noopener", target: "_blank" }, o.value)
        : typeof o.value === "string" ? h("code", {}, o.value) : JSON.stringify(o.value)),
    ])));
  }
  if (d.error) out.push(h("p", { class: "error" }, `${d.error.code}: ${d.error.message}`));
  if (d.status === "applied" && d.action === "deploy") {
    const destroy = h("button", { type: "button", class: "danger", id: "destroy" }, "Destroy");
    destroy.addEventListener("click", () => void busy(destroy, async () => {
      try {
        const next = await api.call<Deployment>("POST", `${path}/destroy`, {});
        await follow(projectId, next, slot);
      } catch (e) {
        showError(error, e);
      }
    }));
    out.push(destroy);
  }
  return out;
}

// ---- routing -------------------------------------------------------------------------

async function route(): Promise<void> {
  generation++;
  const hash = location.hash || "#/projects";
  if (!api.signedIn && !hash.startsWith("#/signup") && !hash.startsWith("#/login")) {
    if (!(await api.refresh())) {
      drawNav();
      return authScreen("login");
    }
  }
  drawNav();
  if (hash.startsWith("#/signup")) return authScreen("signup");
  if (hash.startsWith("#/login")) return api.signedIn ? go("#/projects") : authScreen("login");
  const project = /^#\/projects\/([A-Za-z0-9_-]+)$/.exec(hash);
  if (project) return projectScreen(project[1]);
  return projectsScreen();
}

/** The API's address: config.json beside index.html in AWS; this origin under `make run`. */
async function start(): Promise<void> {
  try {
    const response = await fetch("/config.json", { cache: "no-store", credentials: "omit" });
    api.useBase(response.ok ? apiBaseFrom(await response.json()) : "");
  } catch (e) {
    clear(main, heading("AutoStack"), h("p", { class: "error", role: "alert" }, describeError(e)));
    return;
  }
  window.addEventListener("hashchange", () => void route().catch((e: unknown) => {
    if (!(e instanceof ApiError)) console.error(e);
  }));
  await route();
}

void start();
