import { Code } from "@connectrpc/connect";
import { useI18n } from "vue-i18n";
import type { Problem } from "../../api/errors";
import { useProblemText } from "../../composables/useProblemText";

/** A schedule problem in words: a headline and the particulars. */
export interface ScheduleProblemWords {
  title: string;
  lines: string[];
}

type Translate = (key: string, values?: Record<string, unknown>) => string;

/**
 * Reads what the server said is in the way (the schedule service names the
 * column, time and chart in its messages) and says it in the user's
 * language. Returns null for messages it does not know.
 */
export function conflictLine(detail: string, t: Translate): string | null {
  const m = /^(.+?) is already booked at (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})(?: \(appointment [^,]+, chart (\d+)\))?/.exec(detail);
  if (m) {
    const what = (m[1] ?? "").replace(/^(chair|provider) /, "");
    const time = `${m[2]} ${m[3]}`;
    return m[4] ? t("schedule.conflict.bookedChart", { what, time, chart: m[4] }) : t("schedule.conflict.booked", { what, time });
  }
  if (/already booked/.test(detail)) return t("schedule.conflict.taken");
  return null;
}

/** The reason a time cannot be booked (hours, lunch, blockouts, days off), or null when not recognised. */
export function preconditionLine(detail: string, t: Translate): string | null {
  const why = detail.replace(/; someone with the override permission can book it anyway.*$/, "");
  let m: RegExpExecArray | null;
  if ((m = /^outside opening hours \((\d{2}:\d{2})-(\d{2}:\d{2})\)/.exec(why))) return t("schedule.precondition.hours", { from: m[1], to: m[2] });
  if ((m = /^during the lunch break \((\d{2}:\d{2})-(\d{2}:\d{2})\)/.exec(why))) return t("schedule.precondition.lunch", { from: m[1], to: m[2] });
  if ((m = /^blocked \((.*)\) from (\d{2}:\d{2}) to (\d{2}:\d{2})/.exec(why)))
    return t("schedule.precondition.blocked", { reason: m[1] || t("schedule.blockout.noReason"), from: m[2], to: m[3] });
  if ((m = /^the clinic is closed on (\d{4}-\d{2}-\d{2})/.exec(why))) return t("schedule.precondition.closedDay", { date: m[1] });
  if (/^the clinic is closed on /.test(why)) return t("schedule.precondition.closedWeekday");
  if ((m = /^outside (.+)'s hours \((\d{2}:\d{2})-(\d{2}:\d{2})\)/.exec(why)))
    return t("schedule.precondition.providerHours", { name: m[1], from: m[2], to: m[3] });
  if ((m = /^(.+) is off on (\d{4}-\d{2}-\d{2})/.exec(why))) return t("schedule.precondition.dayOff", { name: m[1], date: m[2] });
  if ((m = /^(.+) does not work on /.exec(why))) return t("schedule.precondition.notWorking", { name: m[1] });
  if (/^appointments end the day they start/.test(why)) return t("schedule.precondition.sameDay");
  if (/cannot be moved/.test(why)) return t("schedule.precondition.finished");
  if (/cannot become/.test(why)) return t("schedule.precondition.transition");
  return null;
}

/**
 * Words for problems of the appointment book: conflicts name what is in the
 * way, refusals say which rule (hours, lunch, blockout) applies, and
 * anything else falls back to the app's general messages.
 */
export function useScheduleProblemText() {
  const { t } = useI18n();
  const text = useProblemText();

  function describe(p: Problem): ScheduleProblemWords {
    if (p.code === Code.AlreadyExists) {
      const line = conflictLine(p.detail, t);
      return { title: t("schedule.conflict.title"), lines: [line ?? p.detail].filter(Boolean) };
    }
    if (p.code === Code.FailedPrecondition) {
      const line = preconditionLine(p.detail, t);
      const placement = /override permission/.test(p.detail);
      const lines = [line ?? p.detail].filter(Boolean);
      if (placement) lines.push(t("schedule.precondition.overrideNote"));
      return { title: placement ? t("schedule.precondition.title") : text.summary(p), lines };
    }
    if (p.code === Code.Aborted) return { title: t("schedule.aborted"), lines: [] };
    const lines = p.fields.map((f) => text.rule(f.ruleId, f.message));
    return { title: text.summary(p), lines: [...new Set(lines)] };
  }

  return { describe, at: text.at, summary: text.summary };
}
