import { Code, ConnectError, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import { AuthService } from "../gen/molar/v1/auth_pb";

/**
 * What the interceptor needs from the session. It is handed functions rather
 * than the auth store so that the store (which calls clients over the
 * transport) and the transport (which carries this interceptor) do not import
 * each other.
 */
export interface SessionHooks {
  /** The access token to send, or null when nobody is signed in. */
  token(): string | null;
  /**
   * Gets a new access token with the refresh cookie. Callers that ask while a
   * refresh is running must share it (each refresh token works only once).
   * Resolves to the new token, or to null when there is no session any more;
   * rejects when the server could not be asked (network down).
   */
  refresh(): Promise<string | null>;
  /** Called when the session has ended: forget it and send the user to sign in. */
  ended(): void;
}

/** AuthService methods that manage the session themselves: no bearer, no retry. */
const sessionMethods = new Set(["Login", "Refresh", "Logout"]);

/** Whether req is Login, Refresh or Logout, which run on the cookie or on credentials. */
export function isSessionCall(req: UnaryRequest | StreamRequest): boolean {
  return req.service.typeName === AuthService.typeName && sessionMethods.has(req.method.name);
}

/**
 * Creates the interceptor that signs every call with the access token. A unary
 * call refused with Unauthenticated (the token expired, or the server
 * restarted) is retried once after a refresh; when the refresh says the
 * session is gone, the session hooks are told and the original error is
 * thrown.
 */
export function createAuthInterceptor(session: SessionHooks): Interceptor {
  return (next) => async (req) => {
    if (isSessionCall(req)) return next(req);
    const sent = session.token();
    if (sent) req.header.set("Authorization", `Bearer ${sent}`);
    try {
      return await next(req);
    } catch (err) {
      // A stream's request messages cannot be sent a second time.
      if (req.stream || ConnectError.from(err).code !== Code.Unauthenticated) throw err;
      // Another call may already have refreshed while this one was in flight.
      const current = session.token();
      const fresh = current !== null && current !== sent ? current : await session.refresh();
      if (fresh === null) {
        session.ended();
        throw err;
      }
      req.header.set("Authorization", `Bearer ${fresh}`);
      return next(req);
    }
  };
}
