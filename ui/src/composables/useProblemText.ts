import { Code } from "@connectrpc/connect";
import { useI18n } from "vue-i18n";
import { problemsAt, type Problem } from "../api/errors";

/** Snake-case names of Connect codes, as used in the errors.* messages. */
const codeNames: Record<number, string> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.Unauthenticated]: "unauthenticated",
  [Code.Unavailable]: "unavailable",
  [Code.Internal]: "internal",
};

/**
 * Words for problems: what a receptionist reads, in the current language.
 * Rule violations are translated by rule id; an unknown rule falls back to
 * the server's English message.
 */
export function useProblemText() {
  const { t, te } = useI18n();

  function summary(p: Problem): string {
    const key = `errors.${codeNames[p.code] ?? "unknown"}`;
    return te(key) ? t(key) : t("errors.unknown");
  }

  function rule(ruleId: string, fallback: string): string {
    const key = `rules.${ruleId.replace(/\./g, "_")}`;
    return te(key) ? t(key) : fallback;
  }

  /**
   * Messages for one field (and anything below it), ready for :error-messages.
   * overrides words a rule differently for this field, by rule id.
   */
  function at(p: Problem | null, field: string, overrides: Record<string, string> = {}): string[] {
    return [...new Set(problemsAt(p, field).map((f) => overrides[f.ruleId] ?? rule(f.ruleId, f.message)))];
  }

  return { summary, rule, at };
}
