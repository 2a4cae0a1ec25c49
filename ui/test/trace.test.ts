import { afterEach, describe, expect, it, vi } from "vitest";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { createTraceInterceptor, TRACE_WINDOW_MS } from "../src/api/trace";
import { createTransport } from "../src/api/transport";
import { PatientService } from "../src/gen/molar/v1/patient_pb";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

/** A patient service that records each call's traceparent, over the given interceptor. */
function recording(opts: Parameters<typeof createTraceInterceptor>[0]) {
  const seen: { trace: string; span: string }[] = [];
  const transport = createRouterTransport(
    (r) =>
      r.service(PatientService, {
        getPatient: (_, ctx) => {
          const m = TRACEPARENT.exec(ctx.requestHeader.get("traceparent") ?? "");
          if (!m) throw new Error(`traceparent ${ctx.requestHeader.get("traceparent")}`);
          seen.push({ trace: m[1]!, span: m[2]! });
          return {};
        },
      }),
    { transport: { interceptors: [createTraceInterceptor(opts)] } },
  );
  return { seen, client: createClient(PatientService, transport) };
}

describe("traceparent", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("puts the calls a click causes in one trace, each call a span of its own", async () => {
    const events = new EventTarget();
    let now = 1_000;
    const { seen, client } = recording({ events, now: () => now });

    await client.getPatient({ id: "p1" });
    await client.getPatient({ id: "p1" });
    expect(seen[0]!.trace).not.toBe(seen[1]!.trace); // no user action: a trace each

    events.dispatchEvent(new Event("pointerdown"));
    now += 200;
    await client.getPatient({ id: "p1" });
    now += 1_500;
    await client.getPatient({ id: "p2" });
    expect(seen[2]!.trace).toBe(seen[3]!.trace);
    expect(seen[2]!.span).not.toBe(seen[3]!.span);
    expect(seen[2]!.trace).not.toBe(seen[1]!.trace);

    events.dispatchEvent(new Event("keydown"));
    await client.getPatient({ id: "p3" });
    expect(seen[4]!.trace).not.toBe(seen[3]!.trace); // the next action, the next trace

    now += TRACE_WINDOW_MS + 1;
    await client.getPatient({ id: "p3" });
    expect(seen[5]!.trace).not.toBe(seen[4]!.trace); // too long after it: a trace of its own
  });

  it("is sent by the app's transport", async () => {
    const headers: Headers[] = [];
    vi.stubGlobal("fetch", async (_input: RequestInfo | URL, init?: RequestInit) => {
      headers.push(new Headers(init?.headers));
      return new Response("{}", { status: 200, headers: { "Content-Type": "application/json" } });
    });
    const client = createClient(PatientService, createTransport("http://molar.test"));
    await client.getPatient({ id: "p1" });
    expect(headers).toHaveLength(1);
    expect(headers[0]!.get("traceparent")).toMatch(TRACEPARENT);
  });
});
