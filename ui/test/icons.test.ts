import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { icons } from "../src/plugins/iconPaths";

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
    for (const f of files(join(__dirname, "../src")).filter((f) => /\.(vue|ts)$/.test(f) && !f.endsWith("plugins/icons.ts") && !f.endsWith("plugins/iconPaths.ts"))) {
      for (const m of readFileSync(f, "utf8").matchAll(/mdi-[a-z0-9]+(?:-[a-z0-9]+)*/g)) used.add(m[0]);
    }
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used].filter((name) => !(name in icons));
    expect(missing).toEqual([]);
    for (const name of used) expect(icons[name]).toMatch(/^M/);
  });
});

describe("icon loading", () => {
  it("draws the sign-in page's icons at once and the others once their file has come", async () => {
    const { mount } = await import("@vue/test-utils");
    const { h } = await import("vue");
    const { VIcon } = await import("vuetify/components");
    const { createAppVuetify } = await import("../src/plugins/vuetify");
    const { mdiLockOutline, mdiPlus } = await import("@mdi/js");
    const { until } = await import("./helpers");
    const w = mount({ render: () => [h(VIcon, { icon: "mdi-lock-outline" }), h(VIcon, { icon: "mdi-plus" })] }, { attachTo: document.body, global: { plugins: [createAppVuetify("ko")] } });
    const paths = () => [...document.querySelectorAll("svg path")].map((p) => p.getAttribute("d"));
    await until(() => paths()[0] === mdiLockOutline, "the sign-in icon drawn");
    await until(() => paths()[1] === mdiPlus, "the other icon drawn");
    w.unmount();
  });
});
