import { describe, expect, it } from "vitest";
import { signRequest, type DocsSession } from "../src/composables/apiDocsAuth";

const base = "https://clinic.example";
const now = Date.parse("2026-03-02T09:00:00Z");

/** A session whose token expires at expires, counting refreshes. */
function session(token: string | null, expires: number | null) {
  const s = {
    current: token,
    refreshes: 0,
    token: () => s.current,
    expireTime: expires === null ? null : new Date(expires),
    refreshOnce: async () => {
      s.refreshes++;
      s.current = "fresh";
      return s.current;
    },
  };
  return s satisfies DocsSession;
}

describe("signRequest", () => {
  it("puts the session's token on a call to this server", async () => {
    const s = session("t1", now + 600_000);
    const req = new Request(`${base}/molar.v1.AuthService/GetMe`, { method: "POST", body: "{}" });
    await signRequest(req, base, s, now);
    expect(req.headers.get("Authorization")).toBe("Bearer t1");
    expect(s.refreshes).toBe(0);
  });

  it("refreshes a token about to expire before sending it", async () => {
    const s = session("old", now + 10_000);
    const req = new Request(`${base}/molar.v1.CatalogService/ListProcedures`, { method: "POST", body: "{}" });
    await signRequest(req, base, s, now);
    expect(req.headers.get("Authorization")).toBe("Bearer fresh");
    expect(s.refreshes).toBe(1);
  });

  it("never sends the token to another origin", async () => {
    const s = session("t1", now + 600_000);
    const req = new Request("https://elsewhere.example/molar.v1.AuthService/GetMe", { method: "POST", body: "{}" });
    await signRequest(req, base, s, now);
    expect(req.headers.get("Authorization")).toBeNull();
  });

  it("leaves the session methods, which run on the cookie, as they are", async () => {
    const s = session("t1", now + 600_000);
    const req = new Request(`${base}/molar.v1.AuthService/Refresh`, { method: "POST", body: "{}" });
    await signRequest(req, base, s, now);
    expect(req.headers.get("Authorization")).toBeNull();
  });

  it("sends nothing when nobody is signed in", async () => {
    const s = session(null, null);
    const req = new Request(`${base}/molar.v1.AuthService/GetMe`, { method: "POST", body: "{}" });
    await signRequest(req, base, s, now);
    expect(req.headers.get("Authorization")).toBeNull();
  });
});
