// A small syntax highlighter for the bundle's files (HCL, YAML, Dockerfile, shell, JSON).
// It returns tokens; the page sets them as text, so file contents are never parsed as HTML.

export interface Token {
  kind: "plain" | "comment" | "string" | "number" | "keyword" | "key";
  text: string;
}

const HCL_WORDS = ["resource", "data", "variable", "output", "module", "provider", "terraform", "locals", "true", "false", "null"];
const DOCKER_WORDS = ["FROM", "RUN", "COPY", "ADD", "CMD", "ENTRYPOINT", "ENV", "ARG", "EXPOSE", "WORKDIR", "USER", "HEALTHCHECK", "LABEL", "AS"];
const SH_WORDS = ["if", "then", "else", "fi", "for", "do", "done", "set", "export", "echo", "exit"];

export function languageOf(path: string): string {
  const name = path.split("/").pop() ?? "";
  if (/\.(tf|tfvars|hcl)$/.test(name)) return "hcl";
  if (/\.ya?ml$/.test(name)) return "yaml";
  if (name === "Dockerfile" || name.endsWith(".dockerfile")) return "docker";
  if (/\.(sh|tftpl)$/.test(name)) return "sh";
  if (name.endsWith(".json")) return "json";
  return "text";
}

function wordsFor(lang: string): Set<string> {
  if (lang === "hcl") return new Set(HCL_WORDS);
  if (lang === "docker") return new Set(DOCKER_WORDS);
  if (lang === "sh") return new Set(SH_WORDS);
  if (lang === "json" || lang === "yaml") return new Set(["true", "false", "null"]);
  return new Set();
}

const PATTERN = /(#[^\n]*|\/\/[^\n]*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][\w-]*)/g;

export function highlight(text: string, lang: string): Token[] {
  if (lang === "text") return [{ kind: "plain", text }];
  const words = wordsFor(lang);
  const tokens: Token[] = [];
  const push = (kind: Token["kind"], t: string) => {
    if (!t) return;
    const last = tokens[tokens.length - 1];
    if (last && last.kind === kind) last.text += t;
    else tokens.push({ kind, text: t });
  };
  let index = 0;
  for (const m of text.matchAll(PATTERN)) {
    const at = m.index ?? 0;
    push("plain", text.slice(index, at));
    const [whole, comment, str, num, word] = m;
    const slashComment = comment?.startsWith("//") && lang !== "hcl" && lang !== "json";
    if (comment && !slashComment && (lang !== "json")) push("comment", comment);
    else if (comment) push("plain", whole);
    else if (str) push("string", str);
    else if (num) push("number", num);
    else if (word) {
      const isKey = lang === "yaml" && text[at + word.length] === ":";
      push(words.has(word) ? "keyword" : isKey ? "key" : "plain", word);
    }
    index = at + whole.length;
  }
  push("plain", text.slice(index));
  return tokens;
}
