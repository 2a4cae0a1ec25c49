import { inject, ref, shallowRef } from "vue";
import { createClient } from "@connectrpc/connect";
import { PatientService, type PatientSummary } from "../gen/molar/v1/patient_pb";
import { transportKey } from "../api/transport";

/**
 * Finds patients for a picker (name, initial consonants or the last digits
 * of a phone number); only the answer to the newest query is kept.
 */
export function usePatientLookup(size = 8) {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(PatientService, transport);
  const results = shallowRef<PatientSummary[]>([]);
  const searching = ref(false);
  let generation = 0;

  async function search(query: string): Promise<void> {
    const q = query.trim();
    const mine = ++generation;
    if (!q) {
      results.value = [];
      searching.value = false;
      return;
    }
    searching.value = true;
    try {
      const res = await client.searchPatients({ query: q, pageSize: size, includeInactive: true });
      if (mine === generation) results.value = res.patients;
    } catch {
      if (mine === generation) results.value = [];
    } finally {
      if (mine === generation) searching.value = false;
    }
  }

  return { results, searching, search };
}
