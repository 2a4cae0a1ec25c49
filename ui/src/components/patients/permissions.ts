import { computed, type ComputedRef } from "vue";
import { Permission } from "../../gen/molar/v1/access_pb";
import { useAuthStore } from "../../stores/auth";

/** What the signed-in user may do on the patient screens. */
export interface PatientPermissions {
  /** Register and edit patients, deactivate and reactivate them. */
  canWrite: ComputedRef<boolean>;
  /** See the full resident registration number (audited). */
  canRevealRrn: ComputedRef<boolean>;
  /** See the tooth chart, its history and the clinical notes. */
  canChartRead: ComputedRef<boolean>;
  /** Chart, complete and remove entries; write, amend and remove notes. */
  canChartWrite: ComputedRef<boolean>;
}

/**
 * The signed-in user's patient permissions, from the auth store. The screens
 * hide what the user may not do; the server enforces it regardless.
 */
export function usePatientPermissions(): PatientPermissions {
  const auth = useAuthStore();
  return {
    canWrite: computed(() => auth.can(Permission.PATIENTS_WRITE)),
    canRevealRrn: computed(() => auth.can(Permission.PATIENTS_REVEAL_RRN)),
    canChartRead: computed(() => auth.can(Permission.CHART_READ)),
    canChartWrite: computed(() => auth.can(Permission.CHART_WRITE)),
  };
}
