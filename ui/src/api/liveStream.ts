import { Code } from "@connectrpc/connect";
import type { Ref } from "vue";
import { toProblem, type Problem } from "./errors";

/** How a live stream stands: receiving, (re)connecting, or down and waiting to retry. */
export type LiveState = "live" | "connecting" | "offline";

/** Reconnection delays of live streams: the first wait, doubling up to the last. */
export const reconnectDelay = { first: 500, max: 10_000 } as const;

/** Waits ms, or less when signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** What keepLive reads from and reports to the store that owns the stream. */
export interface LiveStream<M> {
  /** Opens the stream; again is true when it reconnects after a drop. */
  open(again: boolean): AsyncIterable<M>;
  /** Applies one message. */
  receive(msg: M): void;
  live: Ref<LiveState>;
  /** Why the stream last failed, while it is down. */
  problem: Ref<Problem | null>;
  /** Milliseconds until the next attempt, while offline. */
  retryDelay: Ref<number>;
  /** A new access token (the auth store's refreshOnce): null when the session is over. */
  refresh(): Promise<string | null>;
}

/**
 * Keeps a server stream open until signal aborts: each message is applied
 * and marks the stream live; a drop waits (doubling from reconnectDelay.first
 * to .max) and reconnects; Unauthenticated gets a new token first (streams
 * are not retried by the auth interceptor) and stops when the session is over.
 */
export async function keepLive<M>(s: LiveStream<M>, signal: AbortSignal): Promise<void> {
  let delay: number = reconnectDelay.first;
  let again = false;
  while (!signal.aborted) {
    s.live.value = "connecting";
    let authFailed = false;
    try {
      for await (const msg of s.open(again)) {
        if (signal.aborted) return;
        s.receive(msg);
        s.live.value = "live";
        s.problem.value = null;
        s.retryDelay.value = 0;
        delay = reconnectDelay.first;
      }
    } catch (err) {
      if (signal.aborted) return;
      s.problem.value = toProblem(err);
      authFailed = s.problem.value.code === Code.Unauthenticated;
    }
    if (signal.aborted) return;
    s.live.value = "offline";
    again = true;
    if (authFailed) {
      try {
        if ((await s.refresh()) === null) return;
        continue;
      } catch {
        // The server could not be reached; wait as for any failure.
      }
    }
    s.retryDelay.value = delay;
    await sleep(delay, signal);
    delay = Math.min(delay * 2, reconnectDelay.max);
  }
}
