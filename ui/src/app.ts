import { createApp } from "vue";
import { createPinia } from "pinia";
import type { Interceptor, Transport } from "@connectrpc/connect";
import App from "./App.vue";
import { createAppI18n, loadMessages, type Locale } from "./i18n";
import { createAppRouter, installGuards, loginLocation } from "./router";
import { createAppVuetify } from "./plugins/vuetify";
import { createErrorReports } from "./plugins/errorReports";
import { transportKey } from "./api/transport";
import { createAuthInterceptor } from "./api/auth-interceptor";
import { useAuthStore } from "./stores/auth";

/** How to build the app; main.ts passes the real transport, tests a router transport. */
export interface MolarOptions {
  /** Creates the one transport of the app with the given interceptors. */
  transport: (interceptors: Interceptor[]) => Transport;
  /** Memory history instead of the address bar, for tests. */
  memoryHistory?: boolean;
  locale?: Locale;
}

/**
 * Wires the app: one transport whose auth interceptor reaches the auth store
 * through late-bound functions (the store itself calls clients over that
 * transport, so neither module imports the other), the router with its
 * guards, and the plugins.
 */
export function createMolar(opts: MolarOptions) {
  const pinia = createPinia();
  const router = createAppRouter(opts.memoryHistory ?? false);
  const i18n = createAppI18n(opts.locale);
  const auth = () => useAuthStore(pinia);

  const transport = opts.transport([
    createAuthInterceptor({
      token: () => auth().token(),
      refresh: () => auth().refreshOnce(),
      ended: () => {
        auth().clear("expired");
        const here = router.currentRoute.value;
        if (here.name !== "login") void router.push(loginLocation(here.fullPath));
      },
    }),
  ]);

  installGuards(router, auth);
  // The screens behind the sign-in bring their words with them.
  router.beforeEach(async (to) => {
    if (!to.meta.public) await loadMessages(i18n.global, i18n.global.locale.value, true);
  });
  const app = createApp(App)
    .provide(transportKey, transport)
    .use(pinia)
    .use(i18n)
    .use(router)
    .use(createAppVuetify(i18n.global.locale.value));
  // Error reports, when the server configured them, start behind the
  // sign-in: the sign-in page never loads their code.
  const startErrorReports = createErrorReports(app);
  router.afterEach((to) => {
    if (!to.meta.public) void startErrorReports();
  });
  return { app, pinia, router, i18n, transport };
}
