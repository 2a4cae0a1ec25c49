import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { inject, ref, shallowRef, watch } from "vue";
import {
  CreateStaffRequestSchema,
  ResetStaffPasswordRequestSchema,
  StaffService,
  UpdateStaffRequestSchema,
  type StaffMember,
} from "../gen/molar/v1/staff_pb";
import type { Role } from "../gen/molar/v1/access_pb";
import { toProblem, type Problem } from "../api/errors";
import { schemaProblem } from "../api/validate";
import { transportKey } from "../api/transport";
import { useAuthStore } from "./auth";

/** What the create dialog sends. */
export interface NewStaff {
  email: string;
  displayName: string;
  roles: Role[];
  temporaryPassword: string;
}

/** Staff accounts, for the staff screen (STAFF_MANAGE). */
export const useStaffStore = defineStore("staff", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(StaffService, transport);
  const auth = useAuthStore();

  const staff = shallowRef<StaffMember[]>([]);
  const loaded = ref(false);
  const loading = ref(false);
  const loadProblem = ref<Problem | null>(null);
  /** A change is being sent (any dialog). */
  const saving = ref(false);
  /** Why the last change failed, for the dialog that sent it. */
  const saveProblem = ref<Problem | null>(null);

  // Nothing of one user's session may be shown to the next at a shared desk.
  watch(
    () => auth.staff?.id,
    (now, before) => {
      if (now !== before) reset();
    },
  );

  function reset(): void {
    staff.value = [];
    loaded.value = false;
    loadProblem.value = null;
    saveProblem.value = null;
  }

  async function load(): Promise<void> {
    loading.value = true;
    loadProblem.value = null;
    try {
      staff.value = (await client.listStaff({})).staff;
      loaded.value = true;
    } catch (err) {
      loadProblem.value = toProblem(err);
    } finally {
      loading.value = false;
    }
  }

  /** Puts a changed or new account into the list, kept in name order. */
  function put(m: StaffMember | undefined): void {
    if (!m) return;
    const rest = staff.value.filter((s) => s.id !== m.id);
    staff.value = [...rest, m].sort((a, b) => a.displayName.localeCompare(b.displayName, "ko"));
  }

  /** Validates req with the schema's rules, then sends it; returns whether it went through. */
  async function send<D extends DescMessage>(
    schema: D,
    req: MessageShape<D>,
    call: (req: MessageShape<D>) => Promise<{ staff?: StaffMember }>,
  ): Promise<StaffMember | null> {
    const invalid = await schemaProblem(schema, req);
    if (invalid) {
      saveProblem.value = invalid;
      return null;
    }
    saving.value = true;
    saveProblem.value = null;
    try {
      const res = await call(req);
      put(res.staff);
      return res.staff ?? null;
    } catch (err) {
      saveProblem.value = toProblem(err);
      return null;
    } finally {
      saving.value = false;
    }
  }

  function createStaff(n: NewStaff): Promise<StaffMember | null> {
    return send(CreateStaffRequestSchema, create(CreateStaffRequestSchema, { ...n, email: n.email.trim() }), (r) =>
      client.createStaff(r),
    );
  }

  /** Changes name and roles, based on the version the screen showed. */
  function updateStaff(m: StaffMember, displayName: string, roles: Role[]): Promise<StaffMember | null> {
    const req = create(UpdateStaffRequestSchema, { id: m.id, displayName, roles, version: m.version });
    return send(UpdateStaffRequestSchema, req, (r) => client.updateStaff(r));
  }

  async function setDisabled(m: StaffMember, disabled: boolean): Promise<StaffMember | null> {
    saving.value = true;
    saveProblem.value = null;
    try {
      const res = await client.setStaffDisabled({ id: m.id, disabled });
      put(res.staff);
      return res.staff ?? null;
    } catch (err) {
      saveProblem.value = toProblem(err);
      return null;
    } finally {
      saving.value = false;
    }
  }

  function resetPassword(m: StaffMember, temporaryPassword: string): Promise<StaffMember | null> {
    const req = create(ResetStaffPasswordRequestSchema, { id: m.id, temporaryPassword });
    return send(ResetStaffPasswordRequestSchema, req, (r) => client.resetStaffPassword(r));
  }

  function clearSaveProblem(): void {
    saveProblem.value = null;
  }

  return {
    staff,
    loaded,
    loading,
    loadProblem,
    saving,
    saveProblem,
    load,
    createStaff,
    updateStaff,
    setDisabled,
    resetPassword,
    clearSaveProblem,
  };
});

/** A temporary password that is easy to read out at the desk: no 0/O, 1/l/I. */
export function generateTemporaryPassword(length = 12): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = new Uint32Array(length);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}
