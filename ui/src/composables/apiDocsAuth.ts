/** What signRequest needs of the session (the auth store has it). */
export interface DocsSession {
  token(): string | null;
  readonly expireTime: Date | null;
  refreshOnce(): Promise<string | null>;
}

/** A token this close to its expiry is refreshed before it is sent. */
const refreshMargin = 30_000;

/** AuthService methods that run on the refresh cookie or on credentials, never on a token. */
const sessionPaths = ["/molar.v1.AuthService/Login", "/molar.v1.AuthService/Refresh", "/molar.v1.AuthService/Logout"];

/**
 * Puts the session's access token on a request the API reference is about
 * to send to this server (base), refreshing it first when it is about to
 * expire. A request to any other origin, or one of the session methods,
 * goes as it is: the token is for this server only.
 */
export async function signRequest(request: Request, base: string, session: DocsSession, now = Date.now()): Promise<void> {
  const url = new URL(request.url);
  if (url.origin !== new URL(base).origin || sessionPaths.includes(url.pathname)) return;
  let token = session.token();
  const expires = session.expireTime?.getTime();
  if (token && expires !== undefined && expires - now < refreshMargin) {
    token = await session.refreshOnce();
  }
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
}
