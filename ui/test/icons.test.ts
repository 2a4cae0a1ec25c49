import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { icons } from "../src/plugins/icons";

/** Every file under dir. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe("icons", () => {
  it("has an SVG path for every icon name the app uses", () => {
    const used = new Set<string>();
    for (const f of files(join(__dirname, "../src")).filter((f) => /\.(vue|ts)$/.test(f) && !f.endsWith("plugins/icons.ts"))) {
      for (const m of readFileSync(f, "utf8").matchAll(/mdi-[a-z0-9]+(?:-[a-z0-9]+)*/g)) used.add(m[0]);
    }
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used].filter((name) => !(name in icons));
    expect(missing).toEqual([]);
    for (const name of used) expect(icons[name]).toMatch(/^M/);
  });
});
