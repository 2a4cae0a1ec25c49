import { createRouter, createWebHistory, createMemoryHistory, type RouteRecordRaw } from "vue-router";

/** Every screen of the app; the server answers any of these paths with the app. */
export const routes: RouteRecordRaw[] = [
  { path: "/", redirect: "/schedule" },
  { path: "/schedule", name: "schedule", component: () => import("../views/ComingSoonView.vue"), props: { area: "schedule" } },
  { path: "/patients", name: "patients", component: () => import("../views/ComingSoonView.vue"), props: { area: "patients" } },
  { path: "/billing", name: "billing", component: () => import("../views/ComingSoonView.vue"), props: { area: "billing" } },
  { path: "/settings", redirect: "/settings/clinic" },
  { path: "/settings/clinic", name: "settings-clinic", component: () => import("../views/settings/ClinicSettingsView.vue") },
  { path: "/:pathMatch(.*)*", name: "not-found", component: () => import("../views/NotFoundView.vue") },
];

/** Creates the router; tests use memory history. */
export function createAppRouter(memory = false) {
  return createRouter({ history: memory ? createMemoryHistory() : createWebHistory(), routes });
}
