import { Code } from "@connectrpc/connect";
import { useI18n } from "vue-i18n";
import { problemsAt, type Problem } from "../api/errors";
import { ProblemReason } from "../gen/molar/v1/problem_pb";
import { formatWon } from "../components/billing/money";

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

  /** A rule by its id; failing that, the error's typed detail; failing that, the server's words. */
  function ruleOrExplained(p: Problem | null, ruleId: string, fallback: string): string {
    const key = `rules.${ruleId.replace(/\./g, "_")}`;
    if (te(key)) return t(key);
    return explain(p) ?? fallback;
  }

  /**
   * Messages for one field (and anything below it), ready for :error-messages.
   * overrides words a rule differently for this field, by rule id.
   */
  function at(p: Problem | null, field: string, overrides: Record<string, string> = {}): string[] {
    return [...new Set(problemsAt(p, field).map((f) => overrides[f.ruleId] ?? ruleOrExplained(p, f.ruleId, f.message)))];
  }

  /**
   * The typed refusal in words, by its reason: billing reasons under
   * billing.problem, images' under images.problem, general ones under problems. Null when the error
   * carries none or its reason has no words here (the caller then shows
   * its own message or the summary).
   */
  function explain(p: Problem | null): string | null {
    const r = p?.rule;
    if (!r || r.reason === ProblemReason.UNSPECIFIED) return null;
    const name = ProblemReason[r.reason];
    if (name === undefined) return null;
    const values = { amount: formatWon(r.amount), limit: formatWon(r.limit), label: r.label, date: r.date, from: r.windowStart, to: r.windowEnd };
    for (const key of [`billing.problem.${name}`, `images.problem.${name}`, `problems.${name}`]) {
      if (te(key)) return t(key, values);
    }
    return null;
  }

  return { summary, rule, at, explain };
}
