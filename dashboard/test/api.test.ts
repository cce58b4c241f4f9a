import { describe, expect, it } from "vitest";
import { Api, ApiError, apiBaseFrom, describeError } from "../src/api";
import { highlight, languageOf } from "../src/highlight";

class Memory {
  data = new Map<string, string>();
  getItem(k: string) { return this.data.get(k) ?? null; }
  setItem(k: string, v: string) { this.data.set(k, v); }
  removeItem(k: string) { this.data.delete(k); }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

describe("Api", () => {
  it("keeps the access token in memory, the refresh token in the session store, and refreshes once on 401", async () => {
    const storage = new Memory();
    const seen: string[] = [];
    let access = "a1";
    const fetcher = async (url: string | URL | Request, init?: RequestInit) => {
      const path = String(url);
      const auth = (init?.headers as Record<string, string>)?.Authorization ?? "";
      seen.push(`${init?.method} ${path} ${auth}`);
      if (path === "/auth/login") return json(200, { access_token: access, refresh_token: "r1", expires_in: 900 });
      if (path === "/auth/refresh") {
        access = "a2";
        return json(200, { access_token: "a2", refresh_token: "r2", expires_in: 900 });
      }
      return auth === `Bearer ${access}` && access === "a2" ? json(200, { ok: true }) : json(401, { error: { code: "unauthorized", message: "expired" } });
    };
    const api = new Api("", storage, fetcher as typeof fetch);
    await api.login("a@example.com", "a long passphrase");
    expect(storage.getItem("autostack.refresh")).toBe("r1");
    expect(await api.call("GET", "/me")).toEqual({ ok: true });
    expect(storage.getItem("autostack.refresh")).toBe("r2");
    expect(seen).toEqual(["POST /auth/login ", "GET /me Bearer a1", "POST /auth/refresh ", "GET /me Bearer a2"]);
  });

  it("turns an error answer into words with the fields and the retry time", async () => {
    const api = new Api("", new Memory(), (async () =>
      json(429, { error: { code: "rate_limited", message: "too many requests" } }, { "Retry-After": "12" })) as typeof fetch);
    const error = await api.call("GET", "/projects").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(describeError(error)).toBe("too many requests Try again in 12 s.");
    expect(describeError(new ApiError(422, "validation_error", "the request is not valid",
      [{ field: "name", message: "too long" }]))).toBe("the request is not valid (name: too long)");
    expect(describeError(new ApiError(403, "limit_exceeded", "limit reached", { limit: "projects", max: 5 })))
      .toBe("limit reached (limit projects: 5)");
  });
});

describe("highlight", () => {
  it("tokenizes HCL without losing a character", () => {
    const text = 'resource "aws_s3_bucket" "b" { # note\n  count = 2\n}';
    const tokens = highlight(text, languageOf("infra/main.tf"));
    expect(tokens.map((t) => t.text).join("")).toBe(text);
    expect(tokens.filter((t) => t.kind !== "plain").map((t) => [t.kind, t.text])).toEqual([
      ["keyword", "resource"], ["string", '"aws_s3_bucket"'], ["string", '"b"'], ["comment", "# note"], ["number", "2"],
    ]);
  });

  it("marks YAML keys and Dockerfile instructions", () => {
    expect(highlight("name: x", "yaml")[0]).toEqual({ kind: "key", text: "name" });
    expect(highlight("FROM python", languageOf("app/Dockerfile"))[0]).toEqual({ kind: "keyword", text: "FROM" });
  });
});

describe("apiBaseFrom", () => {
  it("takes the API's https address from config.json, or stays on this origin", () => {
    expect(apiBaseFrom({ api_url: "https://abc123.execute-api.us-east-1.amazonaws.com/api/" })).toBe(
      "https://abc123.execute-api.us-east-1.amazonaws.com/api",
    );
    expect(apiBaseFrom({ api_url: "" })).toBe("");
    expect(apiBaseFrom(null)).toBe("");
    expect(apiBaseFrom({})).toBe("");
    expect(apiBaseFrom({ api_url: "http://127.0.0.1:3000" })).toBe("http://127.0.0.1:3000");
  });

  it("refuses an address a token must not go to", () => {
    expect(() => apiBaseFrom({ api_url: "http://api.example.com" })).toThrow(/https/);
    expect(() => apiBaseFrom({ api_url: "javascript:alert(1)" })).toThrow(/api_url/);
    expect(() => apiBaseFrom({ api_url: "https://x.example.com/a b" })).toThrow(/api_url/);
  });
});

describe("Api base", () => {
  it("sends every call to the configured API address", async () => {
    const seen: string[] = [];
    const api = new Api("", new Memory(), async (url) => {
      seen.push(String(url));
      return json(200, { access_token: "a", refresh_token: "r", expires_in: 900 });
    });
    api.useBase("https://abc123.execute-api.us-east-1.amazonaws.com/api");
    await api.login("a@example.com", "pw");
    await api.call("GET", "/projects");
    expect(seen).toEqual([
      "https://abc123.execute-api.us-east-1.amazonaws.com/api/auth/login",
      "https://abc123.execute-api.us-east-1.amazonaws.com/api/projects",
    ]);
  });
});
