import { computed, type ComputedRef } from "vue";
import { Permission } from "../../gen/molar/v1/access_pb";
import { useAuthStore } from "../../stores/auth";

/** What the signed-in user may do on the billing screens. */
export interface BillingPermissions {
  /** Create invoices, take payments, discount, void and refund; see the closing and outstanding list. */
  canWrite: ComputedRef<boolean>;
  /** See invoices and ledgers. */
  canRead: ComputedRef<boolean>;
}

/**
 * The signed-in user's billing permissions, from the auth store. The screens
 * hide what the user may not do; the server enforces it regardless.
 */
export function useBillingPermissions(): BillingPermissions {
  const auth = useAuthStore();
  return {
    canWrite: computed(() => auth.can(Permission.BILLING_WRITE)),
    canRead: computed(() => auth.can(Permission.PATIENTS_READ)),
  };
}
