import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";
import vuetify from "vite-plugin-vuetify";
import type { Plugin } from "vite";
import { readFileSync } from "node:fs";

/** The code points each weight of the sign-in font holds (src/plugins/signin-font). */
function signinLetters(): Map<string, Set<number>> {
  const css = readFileSync(new URL("./src/plugins/signin-font/signin-font.css", import.meta.url), "utf8");
  const byWeight = new Map<string, Set<number>>();
  for (const m of css.matchAll(/font-weight: (\d+);[^}]*unicode-range: ([^;]+);/g)) {
    byWeight.set(m[1]!, new Set(m[2]!.split(",").map((u) => parseInt(u.trim().slice(2), 16))));
  }
  return byWeight;
}

/** A unicode-range without the code points in taken ("" when none is left). */
function rangeWithout(range: string, taken: Set<number>): string {
  const parts: string[] = [];
  const hex = (n: number) => n.toString(16).toUpperCase();
  for (const item of range.split(",")) {
    const [a, b = a] = item.trim().slice(2).split("-").map((h) => parseInt(h, 16)) as [number, number?];
    let start = -1;
    for (let cp = a; cp <= b + 1; cp++) {
      const keep = cp <= b && !taken.has(cp);
      if (keep && start < 0) start = cp;
      if (!keep && start >= 0) {
        parts.push(start === cp - 1 ? `U+${hex(start)}` : `U+${hex(start)}-${hex(cp - 1)}`);
        start = -1;
      }
    }
  }
  return parts.join(",");
}

/**
 * Pretendard's stylesheets, trimmed: only the WOFF2 sources (every browser
 * Molar supports reads them, so the older WOFF copies are neither listed nor
 * shipped), and no claim on the letters the sign-in font holds, so each
 * letter has one face and the sign-in page loads no subset for them.
 */
function pretendardCss(): Plugin {
  const signin = signinLetters();
  return {
    name: "molar-pretendard-css",
    enforce: "pre",
    transform(code, id) {
      if (!id.includes("pretendard") || !id.endsWith(".css")) return null;
      const out = code
        .replace(/,\s*url\([^)]*\.woff\)\s*format\(['"]woff['"]\)/g, "")
        .replace(/@font-face\s*\{[^}]*\}/g, (face) => {
          const taken = signin.get(/font-weight:\s*(\d+)/.exec(face)?.[1] ?? "");
          if (!taken) return face;
          const range = /unicode-range:\s*([^;}]+)/.exec(face)?.[1];
          if (!range) return face;
          const rest = rangeWithout(range, taken);
          return rest ? face.replace(range, rest) : "";
        });
      return { code: out, map: null };
    },
  };
}

export default defineConfig({
  plugins: [vue(), vuetify({ autoImport: true }), pretendardCss()],
  build: {
    // The Go server embeds ../dist; the app goes in its own folder so the
    // placeholder that keeps the embed compiling is never deleted.
    outDir: "dist/app",
    emptyOutDir: true,
    // Font files stay files: inlined into the stylesheet, a subset would be
    // downloaded by every page whether or not it shows one of its glyphs.
    assetsInlineLimit: (file) => (/\.woff2?$/.test(file) ? false : undefined),
    chunkSizeWarningLimit: 1500,
  },
  server: {
    port: 5173,
    strictPort: true,
  },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    // Tests wait on conditions; these limits only stop a broken one, and a
    // loaded machine must not trip them.
    testTimeout: 30_000,
    server: { deps: { inline: ["vuetify"] } },
  },
});
