import { create } from "@bufbuild/protobuf";
import {
  InsuranceType,
  MedicalAlertsSchema,
  PatientInputSchema,
  Sex,
  type PatientInput,
} from "../../gen/molar/v1/patient_pb";

/** The zone "today" is counted in when the clinic has not said otherwise. */
const defaultZone = "Asia/Seoul";

/** Today's calendar date ("2025-03-04") in timeZone. */
export function todayIn(timeZone = defaultZone, now = new Date()): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

/**
 * 만 나이: full years since birth on today (both "YYYY-MM-DD"), the age the
 * law and insurance use since 2023; null without a valid birth date.
 */
export function manAge(birthDate: string, today: string): number | null {
  const b = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate);
  const t = /^(\d{4})-(\d{2})-(\d{2})$/.exec(today);
  if (!b || !t) return null;
  let age = Number(t[1]) - Number(b[1]);
  if (`${t[2]}-${t[3]}` < `${b[2]}-${b[3]}`) age--;
  return age < 0 ? null : age;
}

/** "010-1234-5678" from the digits of a Korean mobile number; anything else unchanged. */
export function formatMobile(value: string): string {
  const digits = value.replace(/\D/g, "");
  if (!/^01[016789]\d{7,8}$/.test(digits)) return value.trim();
  return digits.length === 11
    ? `${digits.slice(0, 3)}-${digits.slice(3, 7)}-${digits.slice(7)}`
    : `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`;
}

/** "900101-1234567" from 13 digits; anything else unchanged. */
export function formatRrn(value: string): string {
  const digits = value.replace(/\D/g, "");
  return digits.length === 13 ? `${digits.slice(0, 6)}-${digits.slice(6)}` : value.trim();
}

/**
 * Birth date and sex read from a registration number: the seventh digit
 * gives the century (1, 2, 5, 6: 1900s; 3, 4, 7, 8: 2000s) and the sex (odd
 * male, even female). Null when the number does not say.
 */
export function fromRrn(rrn: string): { birthDate: string; sex: Sex } | null {
  const m = /^(\d{2})(\d{2})(\d{2})-?(\d)\d{6}$/.exec(rrn.trim());
  if (!m) return null;
  const code = Number(m[4]);
  const century = [1, 2, 5, 6].includes(code) ? "19" : [3, 4, 7, 8].includes(code) ? "20" : null;
  if (!century) return null;
  return { birthDate: `${century}${m[1]}-${m[2]}-${m[3]}`, sex: code % 2 === 1 ? Sex.MALE : Sex.FEMALE };
}

/** The editable form of a patient's details. */
export interface PatientDraft {
  name: string;
  sex: Sex;
  birthDate: string;
  rrn: string;
  mobilePhone: string;
  address: string;
  email: string;
  insuranceType: InsuranceType;
  allergies: string[];
  conditions: string[];
  medications: string[];
  smsConsent: boolean;
  firstVisitDate: string;
  tags: string[];
  memo: string;
}

/** A blank registration form; most patients are insured and agree to reminders. */
export function emptyDraft(): PatientDraft {
  return {
    name: "",
    sex: Sex.UNSPECIFIED,
    birthDate: "",
    rrn: "",
    mobilePhone: "",
    address: "",
    email: "",
    insuranceType: InsuranceType.NATIONAL_HEALTH,
    allergies: [],
    conditions: [],
    medications: [],
    smsConsent: true,
    firstVisitDate: "",
    tags: [],
    memo: "",
  };
}

/** A form for stored details; the registration number never comes back, so it starts empty. */
export function draftOf(d: PatientInput): PatientDraft {
  return {
    name: d.name,
    sex: d.sex,
    birthDate: d.birthDate,
    rrn: "",
    mobilePhone: d.mobilePhone,
    address: d.address,
    email: d.email,
    insuranceType: d.insuranceType,
    allergies: [...(d.alerts?.allergies ?? [])],
    conditions: [...(d.alerts?.conditions ?? [])],
    medications: [...(d.alerts?.medications ?? [])],
    smsConsent: d.smsConsent,
    firstVisitDate: d.firstVisitDate,
    tags: [...d.tags],
    memo: d.memo,
  };
}

/** Trimmed, non-empty, each once. */
function cleanList(items: string[]): string[] {
  return [...new Set(items.map((s) => s.trim()).filter((s) => s !== ""))];
}

/** The details to send for a form: text trimmed, the phone normalised, empty chips dropped. */
export function inputOf(d: PatientDraft): PatientInput {
  return create(PatientInputSchema, {
    name: d.name.trim(),
    sex: d.sex,
    birthDate: d.birthDate.trim(),
    rrn: formatRrn(d.rrn),
    mobilePhone: formatMobile(d.mobilePhone),
    address: d.address.trim(),
    email: d.email.trim(),
    insuranceType: d.insuranceType,
    alerts: create(MedicalAlertsSchema, {
      allergies: cleanList(d.allergies),
      conditions: cleanList(d.conditions),
      medications: cleanList(d.medications),
    }),
    smsConsent: d.smsConsent,
    firstVisitDate: d.firstVisitDate.trim(),
    tags: cleanList(d.tags),
    memo: d.memo.trim(),
  });
}

/** Every medical alert of a patient, allergies first. */
export function alertsOf(d: PatientInput | undefined): string[] {
  const a = d?.alerts;
  return a ? [...a.allergies, ...a.conditions, ...a.medications] : [];
}
