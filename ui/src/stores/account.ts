import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { inject, ref, shallowRef, watch } from "vue";
import { AuthService, ChangePasswordRequestSchema, type Session } from "../gen/molar/v1/auth_pb";
import { toProblem, type Problem } from "../api/errors";
import { schemaProblem } from "../api/validate";
import { transportKey } from "../api/transport";
import { useAuthStore } from "./auth";

/** The signed-in user's own account: their password and their sessions. */
export const useAccountStore = defineStore("account", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(AuthService, transport);
  const auth = useAuthStore();

  const sessions = shallowRef<Session[]>([]);
  const sessionsLoaded = ref(false);
  const sessionsLoading = ref(false);
  const sessionsProblem = ref<Problem | null>(null);
  const revoking = ref<string | null>(null);
  const revokeProblem = ref<Problem | null>(null);
  const changingPassword = ref(false);
  const passwordProblem = ref<Problem | null>(null);

  watch(
    () => auth.staff?.id,
    (now, before) => {
      if (now === before) return;
      sessions.value = [];
      sessionsLoaded.value = false;
      sessionsProblem.value = null;
      revokeProblem.value = null;
      passwordProblem.value = null;
    },
  );

  async function loadSessions(): Promise<void> {
    sessionsLoading.value = true;
    sessionsProblem.value = null;
    try {
      sessions.value = (await client.listSessions({})).sessions;
      sessionsLoaded.value = true;
    } catch (err) {
      sessionsProblem.value = toProblem(err);
    } finally {
      sessionsLoading.value = false;
    }
  }

  /** Ends one of the user's sessions (another browser). */
  async function revoke(id: string): Promise<boolean> {
    revoking.value = id;
    revokeProblem.value = null;
    try {
      await client.revokeSession({ sessionId: id });
      sessions.value = sessions.value.filter((s) => s.id !== id);
      return true;
    } catch (err) {
      revokeProblem.value = toProblem(err);
      return false;
    } finally {
      revoking.value = null;
    }
  }

  /**
   * Changes the password. The server ends the other sessions and clears a
   * forced change; the access token still says "must change", so a refresh
   * picks up one that does not.
   */
  async function changePassword(currentPassword: string, newPassword: string): Promise<boolean> {
    const req = create(ChangePasswordRequestSchema, { currentPassword, newPassword });
    const invalid = await schemaProblem(ChangePasswordRequestSchema, req);
    if (invalid) {
      passwordProblem.value = invalid;
      return false;
    }
    changingPassword.value = true;
    passwordProblem.value = null;
    try {
      await client.changePassword(req);
      try {
        await auth.refreshOnce();
      } catch {
        // Offline right after the change: the next call refreshes instead.
      }
      if (sessionsLoaded.value) void loadSessions();
      return true;
    } catch (err) {
      passwordProblem.value = toProblem(err);
      return false;
    } finally {
      changingPassword.value = false;
    }
  }

  function clearPasswordProblem(): void {
    passwordProblem.value = null;
  }

  return {
    sessions,
    sessionsLoaded,
    sessionsLoading,
    sessionsProblem,
    revoking,
    revokeProblem,
    changingPassword,
    passwordProblem,
    loadSessions,
    revoke,
    changePassword,
    clearPasswordProblem,
  };
});
