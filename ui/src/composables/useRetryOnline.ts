import { Code } from "@connectrpc/connect";
import { computed, onBeforeUnmount, shallowRef, watch, type WatchSource } from "vue";
import type { Problem } from "../api/errors";
import { useOnline } from "./useOnline";

/**
 * Tries an action again, once, when the connection it failed for comes
 * back: the browser going online, or another sign that the server answers
 * again (the book's live stream reconnecting). Only a failure to reach the
 * server is retried; a refusal is for the user to read. The actions offered
 * here are safe to repeat: payments carry their idempotency key, changes
 * carry the version they were made on, and a booking that did arrive makes
 * its repeat a conflict, not a second visit.
 */
export function useRetryOnline(back?: WatchSource<boolean>) {
  const online = useOnline();
  const pending = shallowRef<(() => unknown) | null>(null);

  function run(): void {
    const again = pending.value;
    pending.value = null;
    if (again) void again();
  }

  const stop = watch([online, back ?? (() => false)], ([on, up], [wasOn, wasUp]) => {
    if ((on && !wasOn) || (up && !wasUp)) run();
  });
  onBeforeUnmount(stop);

  /** Keeps again to run when the connection is back, if problem is a lost connection; says whether it did. */
  function offer(problem: Problem | null, again: () => unknown): boolean {
    if (problem?.code !== Code.Unavailable) return false;
    pending.value = again;
    return true;
  }

  /** Forgets the waiting action (the user closed the form or did something else). */
  function cancel(): void {
    pending.value = null;
  }

  return { waiting: computed(() => pending.value !== null), offer, cancel, run };
}
