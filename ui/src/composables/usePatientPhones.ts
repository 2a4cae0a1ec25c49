import { createClient } from "@connectrpc/connect";
import { inject, reactive, watch, type WatchSource } from "vue";
import { Permission } from "../gen/molar/v1/access_pb";
import { PatientService } from "../gen/molar/v1/patient_pb";
import { transportKey } from "../api/transport";
import { useAuthStore } from "../stores/auth";
import { formatMobile } from "../components/patients/format";

/**
 * The mobile numbers of the patients a call list names, for those allowed
 * to read patients: each is read once (an audited view of the record) and
 * kept while the list is open. A number that cannot be read stays absent.
 */
export function usePatientPhones(ids: WatchSource<readonly string[]>) {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(PatientService, transport);
  const auth = useAuthStore();
  /** Patient id → formatted number, "" for a patient without one. */
  const phones = reactive(new Map<string, string>());
  const asked = new Set<string>();

  watch(
    ids,
    (list) => {
      if (!auth.can(Permission.PATIENTS_READ)) return;
      for (const id of new Set(list)) {
        if (asked.has(id)) continue;
        asked.add(id);
        client.getPatient({ id }).then(
          (r) => phones.set(id, formatMobile(r.patient?.details?.mobilePhone ?? "")),
          () => asked.delete(id),
        );
      }
    },
    { immediate: true },
  );

  return { phones, canRead: () => auth.can(Permission.PATIENTS_READ) };
}
