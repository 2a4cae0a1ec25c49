import { createApp, type Component } from "vue";
import { createPinia, setActivePinia } from "pinia";
import { mount } from "@vue/test-utils";
import type { Transport } from "@connectrpc/connect";
import { transportKey } from "../src/api/transport";
import { createAppI18n, type Locale } from "../src/i18n";
import { createAppVuetify } from "../src/plugins/vuetify";
import { createAppRouter } from "../src/router";

/** An active Pinia whose stores inject the given transport, for store tests. */
export function piniaWith(transport: Transport) {
  const app = createApp({});
  const pinia = createPinia();
  app.provide(transportKey, transport);
  app.use(pinia);
  setActivePinia(pinia);
  return pinia;
}

/** Mounts a view as the app would, over the given transport. */
export async function mountView(component: Component, transport: Transport, locale: Locale = "ko", path = "/") {
  const router = createAppRouter(true);
  await router.push(path);
  await router.isReady();
  return mount(component, {
    attachTo: document.body,
    global: {
      plugins: [createPinia(), createAppI18n(locale), router, createAppVuetify(locale)],
      provide: { [transportKey as symbol]: transport },
    },
  });
}

/** Waits until cond holds, polling the event loop. */
export async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
