import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { defineStore } from "pinia";
import { computed, inject, ref, shallowRef } from "vue";
import { AuthService, type Me } from "../gen/molar/v1/auth_pb";
import type { Permission } from "../gen/molar/v1/access_pb";
import { toProblem, type Problem } from "../api/errors";
import { transportKey } from "../api/transport";

/** Why the sign-in screen is shown, for a one-line notice above the form. */
export type SignedOutReason = "expired" | "signedOut" | "signedOutLocally";

/** What Login and Refresh both answer. */
interface Grant {
  accessToken: string;
  accessExpireTime?: Timestamp;
  me?: Me;
}

/** The cookie the server sets beside the refresh cookie, readable here: a session may be picked up. */
export const sessionHintCookie = "molar_signed_in";

/** Whether the browser holds the server's hint that a refresh may succeed. */
export function mayHaveSession(): boolean {
  return (globalThis.document?.cookie ?? "").split(/;\s*/).includes(`${sessionHintCookie}=1`);
}

/** Name of the Web Lock that keeps two tabs from spending one refresh cookie twice. */
const refreshLockName = "molar.auth.refresh";

/**
 * The signed-in member of staff and their access token.
 *
 * The access token lives in this closure only: never in Pinia state (which
 * devtools and persistence plugins can read), never in localStorage or
 * sessionStorage. A reload gets a new one from the HttpOnly refresh cookie
 * with restore().
 */
export const useAuthStore = defineStore("auth", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(AuthService, transport);

  let accessToken: string | null = null;
  const me = shallowRef<Me | null>(null);
  const expireTime = shallowRef<Date | null>(null);
  const signingIn = ref(false);
  const signInProblem = ref<Problem | null>(null);
  const notice = ref<SignedOutReason | null>(null);

  const signedIn = computed(() => me.value !== null);
  const staff = computed(() => me.value?.staff ?? null);
  const mustChangePassword = computed(() => me.value?.staff?.mustChangePassword ?? false);

  function apply(g: Grant): void {
    accessToken = g.accessToken;
    expireTime.value = g.accessExpireTime ? timestampDate(g.accessExpireTime) : null;
    me.value = g.me ?? null;
  }

  /** The access token for the Authorization header, or null. */
  function token(): string | null {
    return accessToken;
  }

  /** Whether the signed-in user's roles grant p. */
  function can(p: Permission): boolean {
    return me.value?.permissions.includes(p) ?? false;
  }

  /** Forgets the session in this tab; reason is shown on the sign-in screen. */
  function clear(reason: SignedOutReason | null = null): void {
    accessToken = null;
    me.value = null;
    expireTime.value = null;
    notice.value = reason;
  }

  /** Checks the credentials; on failure signInProblem says why. */
  async function signIn(email: string, password: string): Promise<boolean> {
    signingIn.value = true;
    signInProblem.value = null;
    try {
      apply(await client.login({ email: email.trim(), password }));
      notice.value = null;
      return true;
    } catch (err) {
      signInProblem.value = toProblem(err);
      return false;
    } finally {
      signingIn.value = false;
    }
  }

  let refreshing: Promise<string | null> | null = null;

  /**
   * Exchanges the refresh cookie for a new access token. Everyone who asks
   * while a refresh runs gets the same promise: the server ends the whole
   * session when one refresh token is presented twice. Resolves to the new
   * token, or null (and forgets the session) when the server says there is
   * none; rejects when the server could not be reached.
   */
  function refreshOnce(): Promise<string | null> {
    refreshing ??= (async () => {
      try {
        const locks = globalThis.navigator?.locks;
        const res = locks ? await locks.request(refreshLockName, () => client.refresh({})) : await client.refresh({});
        apply(res);
        return accessToken;
      } catch (err) {
        if (ConnectError.from(err).code === Code.Unauthenticated) {
          if (me.value) clear("expired");
          return null;
        }
        throw err;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  let restoring: Promise<boolean> | null = null;

  /**
   * Called once at start (by the router guard): picks up the session of the
   * refresh cookie, so a reload keeps the user signed in. Later calls return
   * the first answer.
   */
  function restore(): Promise<boolean> {
    // Without the server's hint there is no session to pick up: a
    // signed-out browser starts without asking (and without a 401).
    restoring ??= mayHaveSession()
      ? refreshOnce().then(
          (t) => t !== null,
          () => false,
        )
      : Promise.resolve(false);
    return restoring;
  }

  /**
   * Ends the session on the server and forgets it here. Returns whether the
   * server confirmed; if not (offline), this tab is signed out anyway and the
   * sign-in screen says so.
   */
  async function signOut(): Promise<boolean> {
    let confirmed = true;
    try {
      await client.logout({});
    } catch {
      confirmed = false;
    }
    clear(confirmed ? "signedOut" : "signedOutLocally");
    return confirmed;
  }

  return {
    me,
    staff,
    expireTime,
    signingIn,
    signInProblem,
    notice,
    signedIn,
    mustChangePassword,
    token,
    can,
    clear,
    signIn,
    refreshOnce,
    restore,
    signOut,
  };
});
