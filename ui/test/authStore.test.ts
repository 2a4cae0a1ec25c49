import { beforeEach, describe, expect, it } from "vitest";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { AuthService } from "../src/gen/molar/v1/auth_pb";
import { Permission, Role } from "../src/gen/molar/v1/access_pb";
import { useAuthStore } from "../src/stores/auth";
import { piniaWith } from "./helpers";
import { FakeAuth, meFor } from "./authServer";

function setup(roles: Role[] = [Role.FRONT_DESK]) {
  const server = new FakeAuth(meFor(roles));
  const pinia = piniaWith(createRouterTransport((r) => server.routes(r)));
  return { server, pinia, store: useAuthStore() };
}

beforeEach(() => {
  localStorage.clear();
  sessionStorage.clear();
});

describe("auth store", () => {
  it("signs in and keeps the token in memory only", async () => {
    const { server, pinia, store } = setup();
    const ok = await store.signIn("  admin@molar.test ", server.password);
    expect(ok).toBe(true);
    expect(store.signedIn).toBe(true);
    expect(store.token()).toBe("token-1");
    expect(store.me?.staff?.displayName).toBe("김원장");
    expect(store.expireTime).toBeInstanceOf(Date);
    // Nowhere a script or a persistence plugin could read it back.
    expect(localStorage.length).toBe(0);
    expect(sessionStorage.length).toBe(0);
    expect(JSON.stringify(pinia.state.value, (_, v) => (typeof v === "bigint" ? v.toString() : v))).not.toContain("token-1");
    // The only cookie a script sees is the server's hint, which holds no secret.
    expect(document.cookie).toBe("molar_signed_in=1");
  });

  it("grants what the roles grant", async () => {
    const { server, store } = setup([Role.FRONT_DESK]);
    await store.signIn("admin@molar.test", server.password);
    expect(store.can(Permission.BILLING_WRITE)).toBe(true);
    expect(store.can(Permission.STAFF_MANAGE)).toBe(false);
    expect(store.can(Permission.CLINIC_MANAGE)).toBe(false);
  });

  it("reports a failed sign-in and stays signed out", async () => {
    const { store } = setup();
    expect(await store.signIn("admin@molar.test", "wrong")).toBe(false);
    expect(store.signedIn).toBe(false);
    expect(store.token()).toBeNull();
    expect(store.signInProblem?.code).toBe(Code.Unauthenticated);
  });

  it("reads the lockout's Retry-After", async () => {
    piniaWith(
      createRouterTransport(({ service }) => {
        service(AuthService, {
          login: () => {
            throw new ConnectError("locked", Code.ResourceExhausted, new Headers({ "Retry-After": "120" }));
          },
        });
      }),
    );
    const store = useAuthStore();
    expect(await store.signIn("admin@molar.test", "x")).toBe(false);
    expect(store.signInProblem?.code).toBe(Code.ResourceExhausted);
    expect(store.signInProblem?.retryAfter).toBe(120);
  });

  it("restores the session from the refresh cookie, once", async () => {
    const { server, store } = setup();
    server.session = true;
    const [a, b] = await Promise.all([store.restore(), store.restore()]);
    expect(a && b).toBe(true);
    expect(await store.restore()).toBe(true);
    expect(server.calls.refresh).toBe(1);
    expect(store.signedIn).toBe(true);
    expect(store.token()).toBe("token-1");
  });

  it("restores nothing without a session, and does not even ask", async () => {
    const { server, store } = setup();
    expect(await store.restore()).toBe(false);
    // No hint cookie: a signed-out start makes no request (and logs no 401).
    expect(server.calls.refresh).toBe(0);
    expect(store.signedIn).toBe(false);
    expect(store.notice).toBeNull();
  });

  it("restores nothing when the server cannot be reached, without throwing", async () => {
    let asked = 0;
    piniaWith(
      createRouterTransport(({ service }) => {
        service(AuthService, {
          refresh: () => {
            asked++;
            throw new ConnectError("down", Code.Unavailable);
          },
        });
      }),
    );
    document.cookie = "molar_signed_in=1; path=/"; // signed in before, as far as this browser knows
    const store = useAuthStore();
    expect(await store.restore()).toBe(false);
    expect(asked).toBe(1);
    expect(store.signedIn).toBe(false);
    document.cookie = "molar_signed_in=; path=/; max-age=0";
  });

  it("shares one refresh among everyone who asks at once", async () => {
    const { server, store } = setup();
    await store.signIn("admin@molar.test", server.password);
    let open!: () => void;
    server.refreshGate = new Promise((r) => (open = r));
    const waiting = [store.refreshOnce(), store.refreshOnce(), store.refreshOnce()];
    open();
    const tokens = await Promise.all(waiting);
    expect(server.calls.refresh).toBe(1);
    expect(new Set(tokens)).toEqual(new Set(["token-2"]));
    // Once it has finished, the next refresh is a new one.
    await store.refreshOnce();
    expect(server.calls.refresh).toBe(2);
  });

  it("forgets the session when a refresh finds it ended", async () => {
    const { server, store } = setup();
    await store.signIn("admin@molar.test", server.password);
    server.endSession();
    expect(await store.refreshOnce()).toBeNull();
    expect(store.signedIn).toBe(false);
    expect(store.token()).toBeNull();
    expect(store.notice).toBe("expired");
  });

  it("signs out on the server and here", async () => {
    const { server, store } = setup();
    await store.signIn("admin@molar.test", server.password);
    expect(await store.signOut()).toBe(true);
    expect(server.calls.logout).toBe(1);
    expect(server.session).toBe(false);
    expect(store.signedIn).toBe(false);
    expect(store.token()).toBeNull();
    expect(store.me).toBeNull();
    expect(store.notice).toBe("signedOut");
  });

  it("signs out here even when the server cannot be reached, and says so", async () => {
    piniaWith(
      createRouterTransport(({ service }) => {
        service(AuthService, {
          login: () => ({ accessToken: "t", me: meFor([Role.ADMIN]) }),
          logout: () => {
            throw new ConnectError("down", Code.Unavailable);
          },
        });
      }),
    );
    const store = useAuthStore();
    await store.signIn("admin@molar.test", "pw");
    expect(await store.signOut()).toBe(false);
    expect(store.signedIn).toBe(false);
    expect(store.token()).toBeNull();
    expect(store.notice).toBe("signedOutLocally");
  });
});
