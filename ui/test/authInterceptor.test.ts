import { describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport, type ConnectRouter } from "@connectrpc/connect";
import { createAuthInterceptor, type SessionHooks } from "../src/api/auth-interceptor";
import { createMolar } from "../src/app";
import { useAuthStore } from "../src/stores/auth";
import { AuthService } from "../src/gen/molar/v1/auth_pb";
import { StaffService } from "../src/gen/molar/v1/staff_pb";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { FakeAuth, meFor, staffMember } from "./authServer";
import { savedClinic } from "./fixtures";

/** A server with the fake AuthService and a StaffService that needs a valid token. */
function server(auth: FakeAuth, onList: (authorization: string | null) => void = () => {}) {
  return (r: ConnectRouter) => {
    auth.routes(r);
    r.service(StaffService, {
      listStaff: (_, ctx) => {
        onList(ctx.requestHeader.get("Authorization"));
        auth.check(ctx);
        return { staff: [staffMember()] };
      },
    });
    r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
  };
}

/** Hooks with a fixed token whose refresh is counted. */
function hooks(token: string | null, refreshTo: string | null | Error) {
  const seen = { refreshes: 0, ended: 0 };
  const h: SessionHooks = {
    token: () => token,
    refresh: async () => {
      seen.refreshes++;
      if (refreshTo instanceof Error) throw refreshTo;
      token = refreshTo;
      return refreshTo;
    },
    ended: () => seen.ended++,
  };
  return { h, seen };
}

describe("auth interceptor", () => {
  it("sends the token as a bearer header", async () => {
    const auth = new FakeAuth(meFor([Role.ADMIN]));
    auth.valid.add("abc");
    const headers: (string | null)[] = [];
    const { h } = hooks("abc", null);
    const t = createRouterTransport(server(auth, (a) => headers.push(a)), { transport: { interceptors: [createAuthInterceptor(h)] } });
    await createClient(StaffService, t).listStaff({});
    expect(headers).toEqual(["Bearer abc"]);
  });

  it("refreshes once and retries a call refused as Unauthenticated", async () => {
    const auth = new FakeAuth(meFor([Role.ADMIN]));
    auth.valid.add("fresh");
    const headers: (string | null)[] = [];
    const { h, seen } = hooks("stale", "fresh");
    const t = createRouterTransport(server(auth, (a) => headers.push(a)), { transport: { interceptors: [createAuthInterceptor(h)] } });
    const res = await createClient(StaffService, t).listStaff({});
    expect(res.staff).toHaveLength(1);
    expect(seen).toEqual({ refreshes: 1, ended: 0 });
    expect(headers).toEqual(["Bearer stale", "Bearer fresh"]);
  });

  it("does not refresh or retry a failed Login", async () => {
    const auth = new FakeAuth(meFor([Role.ADMIN]));
    const { h, seen } = hooks(null, "fresh");
    const t = createRouterTransport(server(auth), { transport: { interceptors: [createAuthInterceptor(h)] } });
    await expect(createClient(AuthService, t).login({ email: "admin@molar.test", password: "wrong" })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    expect(auth.calls.login).toBe(1);
    expect(seen).toEqual({ refreshes: 0, ended: 0 });
  });

  it("does not retry a failed Refresh or Logout either", async () => {
    const auth = new FakeAuth(meFor([Role.ADMIN]));
    const { h, seen } = hooks("stale", "fresh");
    const t = createRouterTransport(server(auth), { transport: { interceptors: [createAuthInterceptor(h)] } });
    await expect(createClient(AuthService, t).refresh({})).rejects.toThrow();
    expect(auth.calls.refresh).toBe(1);
    expect(seen.refreshes).toBe(0);
  });

  it("leaves other errors alone", async () => {
    const { h, seen } = hooks("abc", "fresh");
    let calls = 0;
    const t = createRouterTransport(
      ({ service }) =>
        service(StaffService, {
          listStaff: () => {
            calls++;
            throw new ConnectError("no", Code.PermissionDenied);
          },
        }),
      { transport: { interceptors: [createAuthInterceptor(h)] } },
    );
    await expect(createClient(StaffService, t).listStaff({})).rejects.toMatchObject({ code: Code.PermissionDenied });
    expect(calls).toBe(1);
    expect(seen.refreshes).toBe(0);
  });

  it("ends the session when the refresh finds none, and throws the original error", async () => {
    const auth = new FakeAuth(meFor([Role.ADMIN]));
    const { h, seen } = hooks("stale", null);
    const t = createRouterTransport(server(auth), { transport: { interceptors: [createAuthInterceptor(h)] } });
    await expect(createClient(StaffService, t).listStaff({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(seen).toEqual({ refreshes: 1, ended: 1 });
  });

  it("keeps the session when the refresh could not reach the server", async () => {
    const auth = new FakeAuth(meFor([Role.ADMIN]));
    const { h, seen } = hooks("stale", new ConnectError("down", Code.Unavailable));
    const t = createRouterTransport(server(auth), { transport: { interceptors: [createAuthInterceptor(h)] } });
    await expect(createClient(StaffService, t).listStaff({})).rejects.toMatchObject({ code: Code.Unavailable });
    expect(seen).toEqual({ refreshes: 1, ended: 0 });
  });
});

describe("the app's wiring of store and interceptor", () => {
  async function app() {
    const auth = new FakeAuth(meFor([Role.ADMIN]));
    const headers: (string | null)[] = [];
    const molar = createMolar({
      memoryHistory: true,
      transport: (interceptors) => createRouterTransport(server(auth, (a) => headers.push(a)), { transport: { interceptors } }),
    });
    await molar.router.isReady();
    const store = useAuthStore(molar.pinia);
    expect(await store.signIn("admin@molar.test", auth.password)).toBe(true);
    await molar.router.push("/settings/staff");
    expect(molar.router.currentRoute.value.fullPath).toBe("/settings/staff");
    return { auth, headers, store, ...molar, staff: createClient(StaffService, molar.transport) };
  }

  it("shares ONE refresh among five calls that fail together, then retries all five", async () => {
    const { auth, headers, store, staff } = await app();
    const refreshesBefore = auth.calls.refresh;
    auth.expireTokens();
    let open!: () => void;
    auth.refreshGate = new Promise((r) => (open = r));

    const calls = Array.from({ length: 5 }, () => staff.listStaff({}));
    // Let all five reach the server, fail and ask for a refresh before it answers.
    await new Promise((r) => setTimeout(r, 20));
    open();
    const results = await Promise.all(calls);

    expect(auth.calls.refresh - refreshesBefore).toBe(1);
    expect(results.every((r) => r.staff.length === 1)).toBe(true);
    const fresh = store.token();
    expect(fresh).not.toBe("token-1");
    expect(headers.filter((h) => h === `Bearer ${fresh}`)).toHaveLength(5);
    expect(headers).toHaveLength(10);
  });

  it("clears the session and sends the user to sign in when the refresh fails", async () => {
    const { auth, store, router, staff } = await app();
    auth.endSession();
    const all = await Promise.allSettled([staff.listStaff({}), staff.listStaff({}), staff.listStaff({})]);
    expect(all.every((r) => r.status === "rejected")).toBe(true);
    expect(store.signedIn).toBe(false);
    expect(store.token()).toBeNull();
    expect(store.notice).toBe("expired");
    await new Promise((r) => setTimeout(r, 0));
    expect(router.currentRoute.value.path).toBe("/login");
    expect(router.currentRoute.value.query.redirect).toBe("/settings/staff");
  });

  it("keeps calling public methods without a session", async () => {
    const auth = new FakeAuth(meFor([Role.ADMIN]));
    const molar = createMolar({
      memoryHistory: true,
      transport: (interceptors) => createRouterTransport(server(auth), { transport: { interceptors } }),
    });
    await molar.router.isReady();
    expect(molar.router.currentRoute.value.path).toBe("/login");
    const res = await createClient(ClinicService, molar.transport).getClinic({});
    expect(res.clinic?.name).toBe("서울미소치과의원");
  });
});
