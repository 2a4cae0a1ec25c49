import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { inject, ref, shallowRef } from "vue";
import { toProblem, type Problem } from "../api/errors";
import { transportKey } from "../api/transport";
import { BackupService, type GetBackupStatusResponse } from "../gen/molar/v1/backup_pb";

/**
 * How the clinic's backups stand, for the owner's settings screen
 * (CLINIC_MANAGE): the schedule the server keeps, the last backup that
 * succeeded and the recent ones with their failures.
 */
export const useBackupsStore = defineStore("backups", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(BackupService, transport);

  const status = shallowRef<GetBackupStatusResponse | null>(null);
  const loading = ref(false);
  const loadProblem = ref<Problem | null>(null);

  async function load(): Promise<void> {
    loading.value = true;
    loadProblem.value = null;
    try {
      status.value = await client.getBackupStatus({});
    } catch (err) {
      loadProblem.value = toProblem(err);
    } finally {
      loading.value = false;
    }
  }

  return { status, loading, loadProblem, load };
});
