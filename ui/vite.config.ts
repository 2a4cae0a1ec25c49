import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";
import vuetify from "vite-plugin-vuetify";
import type { Plugin } from "vite";

/**
 * Every browser Molar supports reads WOFF2: the font's CSS keeps only those
 * sources, so the older WOFF copies are neither listed nor shipped.
 */
function woff2Only(): Plugin {
  return {
    name: "molar-woff2-only",
    enforce: "pre",
    transform(code, id) {
      if (!id.includes("pretendard") || !id.endsWith(".css")) return null;
      return { code: code.replace(/,\s*url\([^)]*\.woff\)\s*format\(['"]woff['"]\)/g, ""), map: null };
    },
  };
}

export default defineConfig({
  plugins: [vue(), vuetify({ autoImport: true }), woff2Only()],
  build: {
    // The Go server embeds ../dist; the app goes in its own folder so the
    // placeholder that keeps the embed compiling is never deleted.
    outDir: "dist/app",
    emptyOutDir: true,
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
