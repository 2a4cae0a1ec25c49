import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { inject, ref, shallowRef, watch } from "vue";
import { AuditService, ListAuditEventsRequestSchema, type AuditAction, type AuditEvent } from "../gen/molar/v1/audit_pb";
import { toProblem, type Problem } from "../api/errors";
import { transportKey } from "../api/transport";
import { useAuthStore } from "./auth";

/** What the audit screen filters by. */
export interface AuditFilter {
  actions: AuditAction[];
  /** Only events at or after this instant. */
  start?: Date;
  /** Only events before this instant. */
  end?: Date;
  actorId?: string;
  targetId?: string;
}

/** Events per page. */
export const auditPageSize = 50;

/** The audit trail, newest first, a page at a time (AUDIT_READ). */
export const useAuditStore = defineStore("audit", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(AuditService, transport);
  const auth = useAuthStore();

  const events = shallowRef<AuditEvent[]>([]);
  const nextPageToken = ref("");
  const loaded = ref(false);
  const loading = ref(false);
  const loadingMore = ref(false);
  const problem = ref<Problem | null>(null);
  let filter: AuditFilter = { actions: [] };
  // Answers to an older filter arrive late sometimes; only the latest counts.
  let generation = 0;

  watch(
    () => auth.staff?.id,
    (now, before) => {
      if (now !== before) {
        generation++;
        events.value = [];
        nextPageToken.value = "";
        loaded.value = false;
        problem.value = null;
      }
    },
  );

  function request(pageToken: string) {
    return create(ListAuditEventsRequestSchema, {
      actions: filter.actions,
      startTime: filter.start ? timestampFromDate(filter.start) : undefined,
      endTime: filter.end ? timestampFromDate(filter.end) : undefined,
      actorId: filter.actorId ?? "",
      targetId: filter.targetId ?? "",
      pageSize: auditPageSize,
      pageToken,
    });
  }

  /** Loads the first page for f, replacing what is shown. */
  async function load(f: AuditFilter = filter): Promise<void> {
    filter = f;
    const mine = ++generation;
    loading.value = true;
    loadingMore.value = false;
    problem.value = null;
    try {
      const res = await client.listAuditEvents(request(""));
      if (mine !== generation) return;
      events.value = res.events;
      nextPageToken.value = res.nextPageToken;
      loaded.value = true;
    } catch (err) {
      if (mine !== generation) return;
      events.value = [];
      nextPageToken.value = "";
      problem.value = toProblem(err);
    } finally {
      if (mine === generation) loading.value = false;
    }
  }

  /** Appends the next page, if there is one. */
  async function more(): Promise<void> {
    if (!nextPageToken.value || loading.value || loadingMore.value) return;
    const mine = generation;
    loadingMore.value = true;
    problem.value = null;
    try {
      const res = await client.listAuditEvents(request(nextPageToken.value));
      if (mine !== generation) return;
      events.value = [...events.value, ...res.events];
      nextPageToken.value = res.nextPageToken;
    } catch (err) {
      if (mine === generation) problem.value = toProblem(err);
    } finally {
      if (mine === generation) loadingMore.value = false;
    }
  }

  /**
   * Every event of the current filter, newest first, for an export: page
   * after page up to limit; capped says there were more.
   */
  async function all(limit = 5000): Promise<{ events: AuditEvent[]; capped: boolean }> {
    const out: AuditEvent[] = [];
    let token = "";
    do {
      const res = await client.listAuditEvents(request(token));
      out.push(...res.events);
      token = res.nextPageToken;
    } while (token && out.length < limit);
    return { events: out.slice(0, limit), capped: token !== "" || out.length > limit };
  }

  return { events, nextPageToken, loaded, loading, loadingMore, problem, load, more, all };
});
