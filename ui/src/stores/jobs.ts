import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { inject, reactive, ref, shallowRef } from "vue";
import { toProblem, type Problem } from "../api/errors";
import { transportKey } from "../api/transport";
import { ImageService, JobState, type Job } from "../gen/molar/v1/images_pb";

/**
 * Background jobs that failed for good (a thumbnail that could not be made),
 * for the owner's settings screen (CLINIC_MANAGE): listed with the queue's
 * depth by state, and put back in the queue one by one.
 */
export const useJobsStore = defineStore("jobs", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(ImageService, transport);

  const jobs = shallowRef<Job[]>([]);
  /** How many jobs are in each state, by the state's name ("JOB_STATE_DEAD"). */
  const depth = shallowRef<Record<string, number>>({});
  const loaded = ref(false);
  const loading = ref(false);
  const loadProblem = ref<Problem | null>(null);
  /** Jobs being retried, for spinners on their buttons. */
  const retrying = reactive(new Set<string>());
  const retryProblem = ref<Problem | null>(null);

  async function load(): Promise<void> {
    loading.value = true;
    loadProblem.value = null;
    try {
      const res = await client.listJobs({ state: JobState.DEAD });
      jobs.value = res.jobs;
      depth.value = res.depth;
      loaded.value = true;
    } catch (err) {
      loadProblem.value = toProblem(err);
    } finally {
      loading.value = false;
    }
  }

  /** Puts a dead job back in the queue; it leaves the list. */
  async function retry(id: string): Promise<boolean> {
    retrying.add(id);
    retryProblem.value = null;
    try {
      await client.retryJob({ id });
      jobs.value = jobs.value.filter((j) => j.id !== id);
      return true;
    } catch (err) {
      retryProblem.value = toProblem(err);
      return false;
    } finally {
      retrying.delete(id);
    }
  }

  return { jobs, depth, loaded, loading, loadProblem, retrying, retryProblem, load, retry };
});
