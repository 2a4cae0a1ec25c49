import { useI18n } from "vue-i18n";
import { CashReceiptPurpose, type LedgerEntry, type Payment } from "../../gen/molar/v1/billing_pb";
import { methodKey } from "./money";
import { describeDetails } from "./paymentDetails";

/** Words for payments and ledger lines, in the current language. */
export function usePaymentWords() {
  const { t, te } = useI18n();

  /** What the slip says: "신한 · 3개월 · 승인 30012345"; "" when nothing was noted. */
  function details(p: Payment): string {
    return describeDetails(p, {
      lumpSum: t("billing.card.lumpSum"),
      months: (n) => t("billing.card.months", { n }),
      receipt: (purpose) => t("billing.cashReceipt.issued", { purpose: t(`billing.cashReceipt.${CashReceiptPurpose[purpose]}`) }),
      approval: t("billing.approvalShort"),
    });
  }

  /** "카드 (신한 · 일시불)", or just the method. */
  function payment(p: Payment): string {
    const d = details(p);
    const method = t(methodKey(p.method));
    return d ? `${method} (${d})` : method;
  }

  function kind(k: string): string {
    const key = `billing.kind.${k}`;
    return te(key) ? t(key) : k;
  }

  /** What a ledger line is: the procedures billed, the payment, or the reason given. */
  function ledgerLine(e: LedgerEntry): string {
    if (e.kind === "invoice" && e.procedureCount > 0) return t("billing.patient.procedures", { n: e.procedureCount }, e.procedureCount);
    if (e.kind === "payment" && e.payment) return payment(e.payment);
    return e.description || kind(e.kind);
  }

  return { details, payment, kind, ledgerLine };
}
