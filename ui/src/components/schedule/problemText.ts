import { Code } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { storeToRefs } from "pinia";
import { useI18n } from "vue-i18n";
import type { Problem } from "../../api/errors";
import { ProblemReason, type Problem as Rule } from "../../gen/molar/v1/problem_pb";
import { useProblemText } from "../../composables/useProblemText";
import { useScheduleStore } from "../../stores/schedule";
import { hhmm, zoned } from "./time";

/** A schedule problem in words: a headline and the particulars. */
export interface ScheduleProblemWords {
  title: string;
  lines: string[];
}

type Translate = (key: string, values?: Record<string, unknown>) => string;

/** Reasons that refuse a time (hours, lunch, blockouts, days off): the override permission may book anyway. */
const placement = new Set<ProblemReason>([
  ProblemReason.OUTSIDE_HOURS,
  ProblemReason.LUNCH_BREAK,
  ProblemReason.BLOCKED,
  ProblemReason.CLINIC_CLOSED_DATE,
  ProblemReason.CLINIC_CLOSED_WEEKDAY,
  ProblemReason.PROVIDER_HOURS,
  ProblemReason.PROVIDER_DAY_OFF,
  ProblemReason.PROVIDER_NOT_WORKING,
  ProblemReason.CROSSES_MIDNIGHT,
  ProblemReason.IN_THE_PAST,
]);

/**
 * Says a typed schedule problem in the user's language: which column, time
 * and chart are in the way, or which rule refused. Times are shown in the
 * clinic's zone. Returns null for reasons that are not the book's.
 */
export function ruleLine(rule: Rule, t: Translate, timeZone: string): string | null {
  const window = { from: rule.windowStart, to: rule.windowEnd };
  const name = rule.resourceName || rule.resourceId;
  switch (rule.reason) {
    case ProblemReason.SLOT_TAKEN: {
      if (!rule.time) return t("schedule.conflict.taken");
      const z = zoned(timestampDate(rule.time), timeZone);
      const time = `${z.date} ${hhmm(z.minutes)}`;
      return rule.chartNumber > 0n
        ? t("schedule.conflict.bookedChart", { what: name, time, chart: rule.chartNumber.toString() })
        : t("schedule.conflict.booked", { what: name, time });
    }
    case ProblemReason.OUTSIDE_HOURS:
      return t("schedule.precondition.hours", window);
    case ProblemReason.LUNCH_BREAK:
      return t("schedule.precondition.lunch", window);
    case ProblemReason.BLOCKED:
      return t("schedule.precondition.blocked", { reason: rule.label || t("schedule.blockout.noReason"), ...window });
    case ProblemReason.CLINIC_CLOSED_DATE:
      return t("schedule.precondition.closedDay", { date: rule.date });
    case ProblemReason.CLINIC_CLOSED_WEEKDAY:
      return t("schedule.precondition.closedWeekday");
    case ProblemReason.PROVIDER_HOURS:
      return t("schedule.precondition.providerHours", { name, ...window });
    case ProblemReason.PROVIDER_DAY_OFF:
      return t("schedule.precondition.dayOff", { name, date: rule.date });
    case ProblemReason.PROVIDER_NOT_WORKING:
      return t("schedule.precondition.notWorking", { name });
    case ProblemReason.CROSSES_MIDNIGHT:
      return t("schedule.precondition.sameDay");
    case ProblemReason.IN_THE_PAST:
      return t("schedule.precondition.past");
    case ProblemReason.APPOINTMENT_FINAL:
      return t("schedule.precondition.finished", { state: stateWord(rule.state, t) });
    case ProblemReason.STATUS_TRANSITION:
      return t("schedule.precondition.transition", { state: stateWord(rule.state, t), wanted: stateWord(rule.wantedState, t) });
    case ProblemReason.STALE_VERSION:
      return t("schedule.aborted");
    case ProblemReason.BUSY:
      return t("schedule.busy");
  }
  return null;
}

/** "확정" for the state "CONFIRMED" a Problem carries. */
function stateWord(state: string, t: Translate): string {
  return state ? t(`schedule.status.${state}`) : "";
}

/**
 * Words for problems of the appointment book: conflicts name what is in the
 * way, refusals say which rule (hours, lunch, blockout) applies, by the
 * typed detail the server sent; anything else falls back to the app's
 * general messages.
 */
export function useScheduleProblemText() {
  const { t } = useI18n();
  const text = useProblemText();
  const { timeZone } = storeToRefs(useScheduleStore());

  function describe(p: Problem): ScheduleProblemWords {
    const rule = p.rule;
    const line = rule ? ruleLine(rule, t, timeZone.value) : null;
    if (rule && line !== null) {
      switch (rule.reason) {
        case ProblemReason.SLOT_TAKEN:
          return { title: t("schedule.conflict.title"), lines: [line] };
        case ProblemReason.STALE_VERSION:
        case ProblemReason.BUSY:
          return { title: line, lines: [] };
      }
      if (placement.has(rule.reason)) {
        const lines = [line];
        if (rule.overridable) lines.push(t("schedule.precondition.overrideNote"));
        return { title: t("schedule.precondition.title"), lines };
      }
      return { title: text.summary(p), lines: [line] };
    }
    if (p.code === Code.AlreadyExists) return { title: t("schedule.conflict.title"), lines: [t("schedule.conflict.taken")] };
    if (p.code === Code.Aborted) return { title: t("schedule.aborted"), lines: [] };
    const lines = p.fields.map((f) => text.rule(f.ruleId, f.message));
    return { title: text.summary(p), lines: [...new Set(lines)] };
  }

  return { describe, at: text.at, summary: text.summary };
}
