import {
  createRouter,
  createWebHistory,
  createMemoryHistory,
  type RouteLocationNormalized,
  type RouteLocationRaw,
  type RouteRecordRaw,
  type Router,
} from "vue-router";
import { Permission } from "../gen/molar/v1/access_pb";
import { patientRoutes } from "./patients";
import { billingRoutes } from "./billing";
import { scheduleRoutes } from "./schedule";

declare module "vue-router" {
  interface RouteMeta {
    /** Open to anyone, signed in or not (the sign-in screen). */
    public?: true;
    /** The permission a signed-in user needs to open the screen. */
    permission?: Permission;
  }
}

/** Path of the screen that a user with a temporary password is kept on. */
export const changePasswordPath = "/account/password";

/** The settings pages in the order of their tabs; /settings opens the first one the user may. */
export const settingsPages = [
  { name: "settings-clinic", path: "/settings/clinic", key: "clinic", icon: "mdi-hospital-building", permission: Permission.CLINIC_MANAGE },
  { name: "settings-book", path: "/settings/book", key: "book", icon: "mdi-calendar-account-outline", permission: Permission.SCHEDULE_MANAGE },
  { name: "settings-catalog", path: "/settings/catalog", key: "catalog", icon: "mdi-cash-register", permission: Permission.CATALOG_MANAGE },
  { name: "settings-staff", path: "/settings/staff", key: "staff", icon: "mdi-account-multiple-outline", permission: Permission.STAFF_MANAGE },
  { name: "settings-audit", path: "/settings/audit", key: "audit", icon: "mdi-text-box-search-outline", permission: Permission.AUDIT_READ },
  { name: "settings-jobs", path: "/settings/jobs", key: "jobs", icon: "mdi-cog-outline", permission: Permission.CLINIC_MANAGE },
  { name: "settings-backups", path: "/settings/backups", key: "backups", icon: "mdi-backup-restore", permission: Permission.CLINIC_MANAGE },
] as const;

/** Every screen of the app; the server answers any of these paths with the app. */
export const routes: RouteRecordRaw[] = [
  { path: "/", redirect: "/schedule" },
  { path: "/login", name: "login", component: () => import("../views/LoginView.vue"), meta: { public: true } },
  ...scheduleRoutes,
  ...patientRoutes,
  ...billingRoutes,
  { path: "/account", name: "account", component: () => import("../views/AccountView.vue") },
  { path: changePasswordPath, name: "account-password", component: () => import("../views/ChangePasswordView.vue") },
  {
    path: "/settings",
    component: () => import("../views/settings/SettingsLayout.vue"),
    children: [
      // The guard sends /settings on to the first page the user may open;
      // someone who may open none stays here and is told so.
      { path: "", name: "settings", component: () => import("../views/ForbiddenView.vue") },
      {
        path: "clinic",
        name: "settings-clinic",
        component: () => import("../views/settings/ClinicSettingsView.vue"),
        meta: { permission: Permission.CLINIC_MANAGE },
      },
      {
        path: "book",
        name: "settings-book",
        component: () => import("../views/settings/BookSetupView.vue"),
        meta: { permission: Permission.SCHEDULE_MANAGE },
      },
      {
        path: "catalog",
        name: "settings-catalog",
        component: () => import("../views/settings/CatalogView.vue"),
        meta: { permission: Permission.CATALOG_MANAGE },
      },
      {
        path: "staff",
        name: "settings-staff",
        component: () => import("../views/settings/StaffView.vue"),
        meta: { permission: Permission.STAFF_MANAGE },
      },
      {
        path: "audit",
        name: "settings-audit",
        component: () => import("../views/settings/AuditView.vue"),
        meta: { permission: Permission.AUDIT_READ },
      },
      {
        path: "jobs",
        name: "settings-jobs",
        component: () => import("../views/settings/JobsView.vue"),
        meta: { permission: Permission.CLINIC_MANAGE },
      },
      {
        path: "backups",
        name: "settings-backups",
        component: () => import("../views/settings/BackupsView.vue"),
        meta: { permission: Permission.CLINIC_MANAGE },
      },
    ],
  },
  // The API reference, for any signed-in member of staff: its "Test Request"
  // calls the API as them.
  { path: "/docs", name: "docs", component: () => import("../views/ApiDocsView.vue") },
  { path: "/forbidden", name: "forbidden", component: () => import("../views/ForbiddenView.vue") },
  { path: "/:pathMatch(.*)*", name: "not-found", component: () => import("../views/NotFoundView.vue") },
];

/** Creates the router; tests use memory history. Guards are added by installGuards. */
export function createAppRouter(memory = false) {
  return createRouter({ history: memory ? createMemoryHistory() : createWebHistory(), routes });
}

/** What the guards need to know about the session (the auth store satisfies it). */
export interface GuardSession {
  readonly signedIn: boolean;
  readonly mustChangePassword: boolean;
  restore(): Promise<boolean>;
  can(p: Permission): boolean;
}

/** Where to sign in, coming back to `from` afterwards. */
export function loginLocation(from: string): RouteLocationRaw {
  return from && from !== "/" && !from.startsWith("/login") ? { path: "/login", query: { redirect: from } } : { path: "/login" };
}

/**
 * A redirect target from a query parameter, if it is a path of this app:
 * "//evil.example" or "https://..." would take the user off the site.
 */
export function safeRedirect(value: unknown, fallback = "/"): string {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return fallback;
  if (value.startsWith("/login") || value.startsWith(changePasswordPath)) return fallback;
  return value;
}

/**
 * Installs the global guard: the sign-in screen is public; anything else
 * needs a session (restored once from the refresh cookie), a user with a
 * temporary password is kept on the change-password screen, and a screen
 * whose permission the user lacks is replaced by the "no permission" page.
 * Install before app.use(router) so the first navigation is guarded.
 */
export function installGuards(router: Router, session: () => GuardSession): void {
  router.beforeEach(async (to: RouteLocationNormalized) => {
    const s = session();
    if (!s.signedIn) await s.restore();

    if (to.meta.public) {
      // Signed in already (e.g. the reload kept the session): go on.
      if (to.name === "login" && s.signedIn) return s.mustChangePassword ? changePasswordPath : safeRedirect(to.query.redirect);
      return true;
    }
    if (!s.signedIn) return loginLocation(to.fullPath);
    if (s.mustChangePassword && to.path !== changePasswordPath) {
      return { path: changePasswordPath, query: { redirect: safeRedirect(to.fullPath) } };
    }
    if (to.name === "settings") {
      const first = settingsPages.find((p) => s.can(p.permission));
      return first ? first.path : true;
    }
    const needed = to.meta.permission;
    if (needed !== undefined && !s.can(needed)) {
      return { name: "forbidden", query: { from: to.fullPath }, replace: true };
    }
    return true;
  });
}
