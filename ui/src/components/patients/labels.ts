import { useI18n } from "vue-i18n";
import { InsuranceType, Sex } from "../../gen/molar/v1/patient_pb";
import { Condition, EntryStatus, ProcedureCategory } from "../../gen/molar/v1/chart_pb";
import { useDateTime } from "../../composables/useDateTime";
import { manAge, todayIn } from "./format";

/** Words for the patient screens' enums and short forms, in the current language. */
export function usePatientLabels() {
  const { t } = useI18n();
  const { timeZone } = useDateTime();

  const sex = (s: Sex) => t(`patients.sex.SEX_${Sex[s] ?? "UNSPECIFIED"}`);
  const insurance = (i: InsuranceType) => t(`patients.insurance.INSURANCE_TYPE_${InsuranceType[i] ?? "UNSPECIFIED"}`);
  const condition = (c: Condition) => t(`patients.condition.CONDITION_${Condition[c] ?? "UNSPECIFIED"}`);
  const status = (s: EntryStatus) => t(`patients.entryStatus.ENTRY_STATUS_${EntryStatus[s] ?? "UNSPECIFIED"}`);
  const category = (c: ProcedureCategory) => t(`patients.category.PROCEDURE_CATEGORY_${ProcedureCategory[c] ?? "UNSPECIFIED"}`);

  /** 만 나이 today, in the clinic's time zone; null without a birth date. */
  const age = (birthDate: string) => manAge(birthDate, todayIn(timeZone.value));

  /** "만 34세 · 남", or just the sex without a birth date. */
  function ageSex(birthDate: string, s: Sex): string {
    const a = age(birthDate);
    return a === null ? sex(s) : t("patients.ageSex", { age: a, sex: sex(s) });
  }

  return { sex, insurance, condition, status, category, age, ageSex };
}

/** Fees as "₩12,300". */
export const wonFormat = new Intl.NumberFormat("ko-KR", { style: "currency", currency: "KRW" });
