import { CashReceiptPurpose, PaymentMethod, type Invoice } from "../../gen/molar/v1/billing_pb";
import { ProcedureCategory } from "../../gen/molar/v1/chart_pb";

/**
 * The rows of the statutory 진료비 계산서·영수증 (별지 제6호서식) a dental
 * outpatient bill uses, in the form's order.
 */
export const receiptRows = ["consultation", "treatment", "tests", "imaging", "materials", "prosthetics", "certificates"] as const;
export type ReceiptRow = (typeof receiptRows)[number];

/** The form's row for a procedure of a category: exams to 검사료, prostheses, orthodontics and implants to 보철·교정료, the rest to 처치 및 수술료. */
export function rowOf(category: ProcedureCategory | undefined): ReceiptRow {
  switch (category) {
    case ProcedureCategory.DIAGNOSTIC:
      return "tests";
    case ProcedureCategory.PROSTHETIC:
    case ProcedureCategory.ORTHODONTIC:
    case ProcedureCategory.IMPLANT:
      return "prosthetics";
    default:
      return "treatment";
  }
}

/** One row's amounts: 급여 (본인부담금, 공단부담금, 전액 본인부담) and 비급여. */
export interface RowAmounts {
  patient: bigint;
  insurer: bigint;
  fullyPatient: bigint;
  uninsured: bigint;
}

/** What the form states about a bill. */
export interface StatutoryReceipt {
  rows: Record<ReceiptRow, RowAmounts>;
  total: RowAmounts;
  /** ⑦ 진료비 총액. */
  feeTotal: bigint;
  /** ⑧ 환자부담 총액 (after any discount). */
  patientTotal: bigint;
  discount: bigint;
  /** ⑨ 이미 납부한 금액: the patient's credit from earlier payments drawn on this bill. */
  alreadyPaid: bigint;
  /** ⑩ 납부할 금액. */
  toPay: bigint;
  /** 납부한 금액: by card, by cash with a cash receipt, by cash without; and all of it, net of refunds. */
  paidCard: bigint;
  paidCashReceipt: bigint;
  paidCash: bigint;
  paid: bigint;
  /** 납부하지 않은 금액. */
  unpaid: bigint;
  /** The cash receipts' approval numbers. */
  cashApprovals: string[];
}

const zero = (): RowAmounts => ({ patient: 0n, insurer: 0n, fullyPatient: 0n, uninsured: 0n });

/** Fills the form from an invoice; category gives a line's procedure category by its code. */
export function statutoryReceipt(inv: Invoice, category: (code: string) => ProcedureCategory | undefined): StatutoryReceipt {
  const rows = Object.fromEntries(receiptRows.map((r) => [r, zero()])) as Record<ReceiptRow, RowAmounts>;
  const total = zero();
  for (const l of inv.lines) {
    const r = rows[rowOf(category(l.procedureCode))];
    if (l.insured) {
      r.patient += l.patientAmount;
      r.insurer += l.insurerAmount;
      total.patient += l.patientAmount;
      total.insurer += l.insurerAmount;
    } else {
      r.uninsured += l.patientAmount;
      total.uninsured += l.patientAmount;
    }
  }
  let paidCard = 0n;
  let paidCashReceipt = 0n;
  let paidCash = 0n;
  let alreadyPaid = 0n;
  const cashApprovals: string[] = [];
  for (const p of inv.payments) {
    const net = p.amount - p.refunded;
    if (p.method === PaymentMethod.CREDIT) alreadyPaid += net;
    else if (p.method === PaymentMethod.CARD) paidCard += net;
    else if (p.cashReceipt && p.cashReceipt.purpose !== CashReceiptPurpose.UNSPECIFIED) {
      paidCashReceipt += net;
      if (p.cashReceipt.approvalNumber) cashApprovals.push(p.cashReceipt.approvalNumber);
    } else paidCash += net;
  }
  return {
    rows,
    total,
    feeTotal: inv.feeTotal,
    patientTotal: inv.patientTotal - inv.discountTotal,
    discount: inv.discountTotal,
    alreadyPaid,
    toPay: inv.patientTotal - inv.discountTotal - alreadyPaid,
    paidCard,
    paidCashReceipt,
    paidCash,
    paid: paidCard + paidCashReceipt + paidCash,
    unpaid: inv.balance > 0n ? inv.balance : 0n,
    cashApprovals,
  };
}

/** "2026년 12월 6일" (Korean) or "6 December 2026", in timeZone. */
export function formDate(d: Date, locale: string, timeZone: string): string {
  return new Intl.DateTimeFormat(locale === "en" ? "en-GB" : "ko-KR", { timeZone, year: "numeric", month: "long", day: "numeric" }).format(d);
}
