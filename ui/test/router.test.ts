import { describe, expect, it } from "vitest";
import { createRouterTransport } from "@connectrpc/connect";
import { createAppRouter, installGuards, safeRedirect } from "../src/router";
import { useAuthStore } from "../src/stores/auth";
import { Role } from "../src/gen/molar/v1/access_pb";
import { piniaWith } from "./helpers";
import { FakeAuth, meFor } from "./authServer";

/** A guarded router over a fake server; signedIn puts a session in the "cookie" first. */
async function setup(roles: Role[], opts: { cookie?: boolean; mustChange?: boolean } = {}) {
  const server = new FakeAuth(meFor(roles, { mustChangePassword: opts.mustChange ?? false }));
  server.session = opts.cookie ?? false;
  piniaWith(createRouterTransport((r) => server.routes(r)));
  const store = useAuthStore();
  const router = createAppRouter(true);
  installGuards(router, () => store);
  return { server, store, router };
}

async function go(router: ReturnType<typeof createAppRouter>, path: string) {
  await router.push(path);
  return router.currentRoute.value;
}

describe("router guard", () => {
  it("sends someone not signed in to sign in, remembering where they were going", async () => {
    const { router, server } = await setup([Role.ADMIN]);
    const r = await go(router, "/settings/staff?x=1");
    expect(r.path).toBe("/login");
    expect(r.query.redirect).toBe("/settings/staff?x=1");
    // Without the server's hint cookie it did not even try a refresh.
    await go(router, "/schedule");
    expect(server.calls.refresh).toBe(0);
  });

  it("keeps the session across a reload through the refresh cookie", async () => {
    const { router, store } = await setup([Role.ADMIN], { cookie: true });
    const r = await go(router, "/settings/staff");
    expect(r.path).toBe("/settings/staff");
    expect(store.signedIn).toBe(true);
  });

  it("refuses the front desk the staff screen and shows the no-permission page instead", async () => {
    const { router } = await setup([Role.FRONT_DESK], { cookie: true });
    const r = await go(router, "/settings/staff");
    expect(r.name).toBe("forbidden");
    expect(r.query.from).toBe("/settings/staff");
    expect(r.matched.some((m) => m.name === "settings-staff")).toBe(false);
    expect((await go(router, "/settings/audit")).name).toBe("forbidden");
    expect((await go(router, "/settings/clinic")).name).toBe("forbidden");
    // What the front desk does is open.
    expect((await go(router, "/billing")).path).toBe("/billing");
    expect((await go(router, "/patients")).path).toBe("/patients");
  });

  it("refuses a hygienist billing", async () => {
    const { router } = await setup([Role.HYGIENIST], { cookie: true });
    expect((await go(router, "/billing")).name).toBe("forbidden");
    expect((await go(router, "/schedule")).path).toBe("/schedule");
  });

  it("opens the first settings page the user may", async () => {
    const admin = await setup([Role.ADMIN], { cookie: true });
    expect((await go(admin.router, "/settings")).path).toBe("/settings/clinic");
    const desk = await setup([Role.FRONT_DESK], { cookie: true });
    const r = await go(desk.router, "/settings");
    // Nothing to open: the settings index shows the no-permission page.
    expect(r.name).toBe("settings");
  });

  it("keeps a user with a temporary password on the change-password screen", async () => {
    const { router } = await setup([Role.ADMIN], { cookie: true, mustChange: true });
    const r = await go(router, "/settings/staff");
    expect(r.path).toBe("/account/password");
    expect(r.query.redirect).toBe("/settings/staff");
    expect((await go(router, "/account")).path).toBe("/account/password");
    expect((await go(router, "/account/password")).path).toBe("/account/password");
  });

  it("lets everyone signed in open their account", async () => {
    const { router } = await setup([Role.HYGIENIST], { cookie: true });
    expect((await go(router, "/account")).path).toBe("/account");
  });

  it("shows the sign-in screen to anyone, and moves a signed-in user on", async () => {
    const out = await setup([Role.ADMIN]);
    expect((await go(out.router, "/login")).path).toBe("/login");
    const signedIn = await setup([Role.ADMIN], { cookie: true });
    expect((await go(signedIn.router, "/login?redirect=/settings/audit")).path).toBe("/settings/audit");
  });

  it("only follows redirects within the app", () => {
    expect(safeRedirect("/settings/staff")).toBe("/settings/staff");
    expect(safeRedirect("//evil.example/x")).toBe("/");
    expect(safeRedirect("https://evil.example")).toBe("/");
    expect(safeRedirect("/\\evil.example")).toBe("/");
    expect(safeRedirect("/login?redirect=/x")).toBe("/");
    expect(safeRedirect(["/a"])).toBe("/");
    expect(safeRedirect(undefined)).toBe("/");
  });
});
