import type { Interceptor } from "@connectrpc/connect";

/**
 * How long after a click or a key press the calls it causes still belong to
 * its trace. A call with no user action that recent (a reload of a live
 * view, a retry when the network comes back) starts a trace of its own.
 */
export const TRACE_WINDOW_MS = 10_000;

/** The user actions that start a trace. */
const ACTIONS = ["pointerdown", "keydown", "submit"] as const;

/** Random bytes as lowercase hex, never all zeros (an invalid W3C id). */
function randomHex(bytes: number): string {
  const b = new Uint8Array(bytes);
  do crypto.getRandomValues(b);
  while (b.every((x) => x === 0));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** What the interceptor needs from the page; tests pass their own. */
export interface TraceOptions {
  /** Where clicks and key presses happen; the window by default. */
  events?: EventTarget;
  /** The time in milliseconds. */
  now?: () => number;
}

/**
 * Creates the interceptor that sends a W3C traceparent with every call, so
 * that a click and the server's work on it share one trace: each click, key
 * press or form submission starts a trace, and every call within
 * TRACE_WINDOW_MS after it carries that trace's id with a span id of its
 * own (the call), sampled.
 */
export function createTraceInterceptor(opts: TraceOptions = {}): Interceptor {
  const now = opts.now ?? (() => Date.now());
  let action: { trace: string; at: number } | null = null;
  const events = opts.events ?? (typeof window === "undefined" ? undefined : window);
  for (const type of ACTIONS) {
    events?.addEventListener(type, () => (action = { trace: randomHex(16), at: now() }), { capture: true, passive: true });
  }
  return (next) => (req) => {
    const trace = action && now() - action.at <= TRACE_WINDOW_MS ? action.trace : randomHex(16);
    req.header.set("traceparent", `00-${trace}-${randomHex(8)}-01`);
    return next(req);
  };
}
