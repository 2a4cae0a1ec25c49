import { create, getOption } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { createAuthInterceptor } from "../src/api/auth-interceptor";
import { useAuthStore } from "../src/stores/auth";
import { piniaWith } from "./helpers";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { AuthService, MeSchema, type ChangePasswordRequest, type Me, type Session } from "../src/gen/molar/v1/auth_pb";
import { Permission, Role, RoleSchema, grants } from "../src/gen/molar/v1/access_pb";
import { StaffMemberSchema, type StaffMember } from "../src/gen/molar/v1/staff_pb";

/** The permissions roles grant, read from the schema's own role table. */
export function permissionsOf(roles: Role[]): Permission[] {
  const out = new Set<Permission>();
  for (const r of roles) {
    const value = RoleSchema.values.find((v) => v.number === r);
    if (value) for (const p of getOption(value, grants).permissions) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}

/** A staff account as the server returns it. */
export function staffMember(overrides: Partial<Omit<StaffMember, "$typeName">> = {}): StaffMember {
  return create(StaffMemberSchema, {
    id: "s-admin",
    email: "admin@molar.test",
    displayName: "김원장",
    roles: [Role.ADMIN],
    version: 1n,
    createTime: timestampFromDate(new Date("2025-01-02T00:00:00Z")),
    ...overrides,
  });
}

/** Me for an account with the given roles. */
export function meFor(roles: Role[], overrides: Partial<Omit<StaffMember, "$typeName">> = {}): Me {
  return create(MeSchema, { staff: staffMember({ roles, ...overrides }), permissions: permissionsOf(roles), sessionId: "sess-1" });
}

/**
 * A fake AuthService with a refresh "cookie" and access tokens that can be
 * expired at will, counting the calls that matter to the tests.
 */
export class FakeAuth {
  me: Me;
  password = "correct horse battery";
  private hasSession = false;
  /** Access tokens the server accepts. */
  valid = new Set<string>();
  calls = { login: 0, refresh: 0, logout: 0, listSessions: 0 };
  /** What ListSessions answers. */
  sessions: Session[] = [];
  /** Session ids RevokeSession was asked to end. */
  revoked: string[] = [];
  /** ChangePassword requests received. */
  changes: ChangePasswordRequest[] = [];
  /** Makes Refresh wait until this resolves, to hold refreshes in flight. */
  refreshGate: Promise<void> | null = null;
  private issued = 0;

  constructor(me: Me) {
    this.me = me;
    this.session = false;
  }

  /** Whether the refresh cookie is valid; the page's hint cookie follows it, as the server's Set-Cookie would. */
  get session(): boolean {
    return this.hasSession;
  }
  set session(v: boolean) {
    this.hasSession = v;
    document.cookie = v ? "molar_signed_in=1; path=/" : "molar_signed_in=; path=/; max-age=0";
  }

  private grant() {
    const accessToken = `token-${++this.issued}`;
    this.valid.add(accessToken);
    this.session = true;
    return { accessToken, accessExpireTime: timestampFromDate(new Date(Date.now() + 15 * 60_000)), me: this.me };
  }

  /** Makes every access token stale, as when they expire; the session lives on. */
  expireTokens(): void {
    this.valid.clear();
  }

  /** Ends the session entirely, as when it is revoked. */
  endSession(): void {
    this.valid.clear();
    this.session = false;
  }

  /** Throws Unauthenticated unless ctx carries a valid bearer token. */
  check(ctx: HandlerContext): void {
    const token = ctx.requestHeader.get("Authorization")?.replace(/^Bearer /, "");
    if (!token || !this.valid.has(token)) throw new ConnectError("sign in first", Code.Unauthenticated);
  }

  /** Registers AuthService on router. */
  routes(router: ConnectRouter): void {
    router.service(AuthService, {
      login: (req) => {
        this.calls.login++;
        if (req.password !== this.password || req.email !== this.me.staff?.email) {
          throw new ConnectError("email or password is incorrect", Code.Unauthenticated);
        }
        return this.grant();
      },
      refresh: async () => {
        this.calls.refresh++;
        if (this.refreshGate) await this.refreshGate;
        if (!this.session) throw new ConnectError("not signed in", Code.Unauthenticated);
        return this.grant();
      },
      logout: () => {
        this.calls.logout++;
        this.endSession();
        return {};
      },
      getMe: (_, ctx) => {
        this.check(ctx);
        return { me: this.me };
      },
      changePassword: (req, ctx) => {
        this.check(ctx);
        this.changes.push(req);
        if (req.currentPassword !== this.password) {
          const detail = create(ViolationsSchema, {
            violations: [{ field: { elements: [{ fieldName: "current_password" }] }, ruleId: "auth.current_password.wrong", message: "wrong" }],
          });
          throw new ConnectError("invalid", Code.InvalidArgument, undefined, [{ desc: ViolationsSchema, value: detail }]);
        }
        this.password = req.newPassword;
        if (this.me.staff) this.me.staff.mustChangePassword = false;
        return {};
      },
      listSessions: (_, ctx) => {
        this.calls.listSessions++;
        this.check(ctx);
        return { sessions: this.sessions };
      },
      revokeSession: (req, ctx) => {
        this.check(ctx);
        this.revoked.push(req.sessionId);
        this.sessions = this.sessions.filter((s) => s.id !== req.sessionId);
        return {};
      },
    });
  }
}

/**
 * A Pinia signed in as auth.me over a router transport with routes and the
 * fake AuthService, carrying the app's auth interceptor as main.ts wires it.
 */
export async function signedIn(auth: FakeAuth, routes: (r: ConnectRouter) => void = () => {}) {
  let store: ReturnType<typeof useAuthStore> | undefined;
  const interceptor = createAuthInterceptor({
    token: () => store?.token() ?? null,
    refresh: () => store?.refreshOnce() ?? Promise.resolve(null),
    ended: () => store?.clear("expired"),
  });
  const transport = createRouterTransport(
    (r) => {
      auth.routes(r);
      routes(r);
    },
    { transport: { interceptors: [interceptor] } },
  );
  const pinia = piniaWith(transport);
  store = useAuthStore();
  if (!(await store.signIn(auth.me.staff?.email ?? "", auth.password))) throw new Error("fake sign-in failed");
  return { transport, pinia, store };
}
