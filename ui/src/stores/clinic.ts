import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { inject, ref } from "vue";
import { ClinicService, UpdateClinicRequestSchema, type Clinic } from "../gen/molar/v1/clinic_pb";
import { toProblem, type Problem } from "../api/errors";
import { schemaProblem } from "../api/validate";
import { transportKey } from "../api/transport";

/** The clinic profile: loaded once, shown in the app bar, edited in Settings. */
export const useClinicStore = defineStore("clinic", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(ClinicService, transport);

  const clinic = ref<Clinic | null>(null);
  const loading = ref(false);
  const saving = ref(false);
  const loadProblem = ref<Problem | null>(null);
  const saveProblem = ref<Problem | null>(null);

  async function load(): Promise<void> {
    loading.value = true;
    loadProblem.value = null;
    try {
      const res = await client.getClinic({});
      clinic.value = res.clinic ?? null;
    } catch (err) {
      loadProblem.value = toProblem(err);
    } finally {
      loading.value = false;
    }
  }

  /**
   * Validates next with the schema's rules in the browser, then saves it.
   * Returns whether it was saved; otherwise saveProblem says why.
   */
  async function save(next: Clinic): Promise<boolean> {
    const req = create(UpdateClinicRequestSchema, { clinic: next });
    const invalid = await schemaProblem(UpdateClinicRequestSchema, req);
    if (invalid) {
      saveProblem.value = invalid;
      return false;
    }
    saving.value = true;
    saveProblem.value = null;
    try {
      const res = await client.updateClinic(req);
      clinic.value = res.clinic ?? null;
      return true;
    } catch (err) {
      saveProblem.value = toProblem(err);
      return false;
    } finally {
      saving.value = false;
    }
  }

  function clearSaveProblem(): void {
    saveProblem.value = null;
  }

  return { clinic, loading, saving, loadProblem, saveProblem, load, save, clearSaveProblem };
});
