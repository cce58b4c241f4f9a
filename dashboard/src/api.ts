// The API client: same origin, JSON, the access token in memory only.
//
// Tokens: the access token (15 min) lives in this module's memory and is gone on reload.
// The refresh token (7 days, rotated on every use) is kept in sessionStorage: it survives a
// reload of this tab but not closing it, and no other tab sees it. Script injected into the
// page could still read it (as it could read memory while the page is open); the page
// loads no third-party script and has a strict CSP to keep that door shut. localStorage
// would outlive the tab for a week, so it is not used.

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The error in words for a person: the API's message, the fields it names, when to retry. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error);
  let text = error.message;
  if (Array.isArray(error.details)) {
    const fields = error.details
      .filter((d): d is { field?: string; message?: string } => typeof d === "object" && d !== null)
      .map((d) => (d.field ? `${d.field}: ${d.message ?? "invalid"}` : (d.message ?? "")))
      .filter(Boolean);
    if (fields.length) text += ` (${fields.join("; ")})`;
  } else if (error.details && typeof error.details === "object") {
    const d = error.details as Record<string, unknown>;
    if (d.limit !== undefined && d.max !== undefined) text += ` (limit ${String(d.limit)}: ${String(d.max)})`;
  }
  if (error.status === 429 && error.retryAfter !== null) text += ` Try again in ${error.retryAfter} s.`;
  return text;
}

const REFRESH_KEY = "autostack.refresh";

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export interface RateInfo {
  bucket: "default" | "status";
  limit: number;
  remaining: number;
}

type Fetch = typeof fetch;

export class Api {
  private access: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  onSignedOut: () => void = () => {};
  onRate: (info: RateInfo) => void = () => {};

  constructor(
    private base = "",
    private readonly storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> = sessionStorage,
    private readonly fetcher: Fetch = (...args) => fetch(...args),
  ) {}

  /** Where the API is: "" (same origin, `make run`) or config.json's address (AWS). */
  useBase(base: string): void {
    this.base = base;
  }

  get signedIn(): boolean {
    return this.access !== null;
  }

  private keep(pair: TokenPair): void {
    this.access = pair.access_token;
    this.storage.setItem(REFRESH_KEY, pair.refresh_token);
  }

  private async raw(method: string, path: string, body?: unknown, auth = true): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && this.access) headers.Authorization = `Bearer ${this.access}`;
    return this.fetcher(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
  }

  private static async fail(response: Response): Promise<never> {
    let err: ErrorBody = { code: "http_error", message: `HTTP ${response.status}` };
    try {
      const parsed = (await response.json()) as { error?: ErrorBody };
      if (parsed.error) err = parsed.error;
    } catch {
      /* not JSON: keep the status */
    }
    const retry = response.headers.get("Retry-After");
    throw new ApiError(response.status, err.code, err.message, err.details ?? null, retry ? Number(retry) : null);
  }

  /** An authenticated call; a 401 triggers one refresh and one retry. */
  async call<T>(method: string, path: string, body?: unknown, bucket: RateInfo["bucket"] = "default"): Promise<T> {
    let response = await this.raw(method, path, body);
    if (response.status === 401 && (await this.refresh())) response = await this.raw(method, path, body);
    if (response.status === 401) {
      this.forget();
      this.onSignedOut();
    }
    const limit = response.headers.get("X-RateLimit-Limit");
    const remaining = response.headers.get("X-RateLimit-Remaining");
    if (limit && remaining) this.onRate({ bucket, limit: Number(limit), remaining: Number(remaining) });
    if (!response.ok) return Api.fail(response);
    return (response.status === 204 ? null : await response.json()) as T;
  }

  async signup(email: string, password: string): Promise<void> {
    const response = await this.raw("POST", "/auth/signup", { email, password }, false);
    if (!response.ok) await Api.fail(response);
  }

  async login(email: string, password: string): Promise<void> {
    const response = await this.raw("POST", "/auth/login", { email, password }, false);
    if (!response.ok) await Api.fail(response);
    this.keep((await response.json()) as TokenPair);
  }

  /** A new token pair from the kept refresh token (one at a time: rotation spends it). */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      const token = this.storage.getItem(REFRESH_KEY);
      if (!token) return false;
      const response = await this.raw("POST", "/auth/refresh", { refresh_token: token }, false);
      if (!response.ok) {
        this.forget();
        return false;
      }
      this.keep((await response.json()) as TokenPair);
      return true;
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  async logout(): Promise<void> {
    const token = this.storage.getItem(REFRESH_KEY);
    this.forget();
    if (token) await this.raw("POST", "/auth/logout", { refresh_token: token }, false);
  }

  forget(): void {
    this.access = null;
    this.storage.removeItem(REFRESH_KEY);
  }
}

/**
 * The API's address from the published config.json (scripts/publish_dashboard.py):
 * "" means this origin. Only an https address (or loopback http) is taken: anything
 * else keeps the page on its own origin rather than sending tokens somewhere odd.
 */
export function apiBaseFrom(config: unknown): string {
  if (typeof config !== "object" || config === null) return "";
  const url = (config as { api_url?: unknown }).api_url;
  if (typeof url !== "string" || url === "") return "";
  if (!/^(https:\/\/[A-Za-z0-9.-]+(:\d+)?|http:\/\/(127\.0\.0\.1|localhost)(:\d+)?)(\/[\w./-]*)?$/.test(url)) {
    throw new Error(`config.json: api_url must be an https:// address, got ${JSON.stringify(url)}`);
  }
  return url.replace(/\/+$/, "");
}

/** POST a file to a presigned S3 POST, reporting upload progress (0..1). */
export function uploadPresigned(
  url: string,
  fields: Record<string, string>,
  file: Blob,
  onProgress: (fraction: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append("file", file, "archive.zip"); // S3 wants the file last
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else reject(new Error(`the storage refused the upload (HTTP ${xhr.status})`));
    };
    xhr.onerror = () => reject(new Error("the upload failed: the storage could not be reached"));
    xhr.send(form);
  });
}
