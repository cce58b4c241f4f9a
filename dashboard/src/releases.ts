// Releases and app config: what the project screen shows of them (pure, tested with vitest).

export interface Release {
  id: string; stack: string; status: string; image_tag: string; created_at_epoch: number;
  created_by: string; url?: string | null; failed_phase?: string | null; rollback_of?: string | null;
}
export interface ConfigEntry { name: string; kind: "value" | "secret" | "generated"; value?: string | null; updated_at_epoch?: number | null }

const NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const RESERVED = new Set(["PORT", "HOST", "PATH", "HOME", "USER", "SHELL", "PWD", "TZ", "PYTHONPATH", "PYTHONHOME",
  "PYTHONSTARTUP", "VIRTUAL_ENV", "NODE_OPTIONS", "NODE_PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "_HANDLER", "_X_AMZN_TRACE_ID"]);
const RESERVED_PREFIXES = ["AWS_", "AUTOSTACK_", "LAMBDA_", "ECS_"];

/** Why a config name would be refused (the API's own rule, checked first to answer at once). */
export function nameProblem(name: string): string | null {
  if (!NAME.test(name)) return `${name || "The name"} must be upper case letters, digits and _ (not starting with a digit)`;
  if (RESERVED.has(name) || RESERVED_PREFIXES.some((p) => name.startsWith(p))) return `${name} is reserved (set by the platform)`;
  return null;
}

/** A time in UTC to the minute. */
export function when(epoch: number | null | undefined): string {
  if (!epoch) return "-";
  return new Date(epoch * 1000).toISOString().slice(0, 16).replace("T", " ");
}

/** One release in words: tag, status (with the phase that failed), time, who. */
export function releaseLine(r: Release): string {
  const status = r.failed_phase ? `${r.status} in ${r.failed_phase}` : r.status;
  const back = r.rollback_of ? `, back to ${r.rollback_of}` : "";
  return `${r.image_tag}: ${status}${back}, ${when(r.created_at_epoch)} by ${r.created_by}`;
}

/** Releases that can be put back: they went live and are not the live one. */
export function canRollBack(r: Release): boolean {
  return r.status === "superseded" || r.status === "rolled_back";
}

/** What the panel shows as a value: a secret's never comes back from the API. */
export function shownValue(e: ConfigEntry): string {
  if (e.kind === "secret") return "•••• (write-only)";
  if (e.kind === "generated") return "(generated, never shown)";
  return e.value ?? "";
}
