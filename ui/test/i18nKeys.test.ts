import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import koBase from "../src/i18n/ko";
import enBase from "../src/i18n/en";
import { screensEn, screensKo } from "../src/i18n/screens";

const ko = { ...koBase, ...screensKo };
const en = { ...enBase, ...screensEn };

/** Every file under dir. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** The message at a dotted key, if there is one. */
function at(messages: unknown, key: string): unknown {
  return key.split(".").reduce<unknown>((m, part) => (m && typeof m === "object" ? (m as Record<string, unknown>)[part] : undefined), messages);
}

const sources = files(join(__dirname, "../src")).filter((f) => /\.(vue|ts)$/.test(f) && !f.includes("/gen/") && !f.includes("/i18n/"));

describe("words on screen", () => {
  it("has every message key the screens name, in Korean and in English", () => {
    const keys = new Set<string>();
    for (const f of sources) {
      for (const m of readFileSync(f, "utf8").matchAll(/\bt\(\s*["']([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+)["']/g)) keys.add(m[1]!);
    }
    expect(keys.size).toBeGreaterThan(300);
    const missing = [...keys].flatMap((k) => [
      ...(typeof at(ko, k) === "string" ? [] : [`ko: ${k}`]),
      ...(typeof at(en, k) === "string" ? [] : [`en: ${k}`]),
    ]);
    expect(missing).toEqual([]);
  });

  it("writes no Korean outside the messages, but for proper names", () => {
    // The language's own name on its button, card companies' names, and what
    // a typed amount may carry are the same in both languages.
    const allowed = ["한국어", "신한", "삼성", "국민", "현대", "롯데", "하나", "우리", "농협", "기업", "원"];
    const found: string[] = [];
    for (const f of sources) {
      const code = readFileSync(f, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/(^|[^:"'`])\/\/.*$/gm, "$1")
        .replace(/<!--[\s\S]*?-->/g, "");
      for (const m of code.matchAll(/[\uAC00-\uD7A3]+/g)) {
        if (!allowed.includes(m[0])) found.push(`${f.split("/src/")[1]}: ${m[0]}`);
      }
    }
    expect(found).toEqual([]);
  });
});
