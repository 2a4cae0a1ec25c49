import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";
import vuetify from "vite-plugin-vuetify";

export default defineConfig({
  plugins: [vue(), vuetify({ autoImport: true })],
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
