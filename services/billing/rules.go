package billing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
)

// The rules of an account. Each decision sees the account as of one change
// number and returns the invoices it changes (copies, never the account's
// own), or a refusal; nothing is stored until the whole decision is made.

// errUnchanged means the change asked for is in the account already (a
// retry with the same idempotency key).
var errUnchanged = fmt.Errorf("unchanged")

func problem(code services.Code, reason molarv1.ProblemReason, format string, args ...any) *services.Error {
	return services.Refuse(code, &molarv1.Problem{Reason: reason}, format, args...)
}

func limited(code services.Code, reason molarv1.ProblemReason, amount, limit int64, format string, args ...any) *services.Error {
	return services.Refuse(code, &molarv1.Problem{Reason: reason, Amount: amount, Limit: limit}, format, args...)
}

// invoice returns the account's copy of an invoice, or nil.
func (a Account) invoice(id string) *molarv1.Invoice {
	i := slices.IndexFunc(a.Invoices, func(inv *molarv1.Invoice) bool { return inv.GetId() == id })
	if i < 0 {
		return nil
	}
	return a.Invoices[i]
}

// Credit is what the patient has paid beyond what they owe: the overpaid
// part of each invoice.
func (a Account) Credit() int64 {
	var c int64
	for _, inv := range a.Invoices {
		if inv.GetBalance() < 0 && inv.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
			c -= inv.GetBalance()
		}
	}
	return c
}

// billed returns the invoice holding a chart entry on a live invoice, or "".
func (a Account) billed(entryID string) string {
	for _, inv := range a.Invoices {
		if inv.GetStatus() == molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
			continue
		}
		for _, l := range inv.GetLines() {
			if l.GetEntryId() == entryID {
				return inv.GetId()
			}
		}
	}
	return ""
}

// editable returns a copy of invoice id to change, checking the version the
// caller saw when it gave one.
func (a Account) editable(id string, version int64) (*molarv1.Invoice, error) {
	inv := a.invoice(id)
	if inv == nil {
		return nil, services.Errorf(services.NotFound, "invoice not found")
	}
	if version != 0 && inv.GetVersion() != version {
		return nil, problem(services.Aborted, molarv1.ProblemReason_PROBLEM_REASON_STALE_VERSION, "the invoice was changed by someone else; reload and try again")
	}
	return proto.CloneOf(inv), nil
}

// draft prices the completed entries not on a live invoice into a new
// invoice. With entryIDs, exactly those are billed or nothing is.
func (a Account) draft(inv *molarv1.Invoice, done []CompletedEntry, entryIDs []string) error {
	if len(entryIDs) > 0 {
		done = slices.DeleteFunc(slices.Clone(done), func(e CompletedEntry) bool { return !slices.Contains(entryIDs, e.ID) })
		if len(done) != len(entryIDs) {
			return services.InvalidFields(services.Violation{Field: "entry_ids", Rule: "billing.entries.completed", Message: "bill only completed procedures of this patient"})
		}
	}
	for _, e := range done {
		if holder := a.billed(e.ID); holder != "" {
			if len(entryIDs) > 0 {
				return services.Refuse(services.FailedPrecondition, &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_ENTRY_ALREADY_BILLED,
					Label: e.Name, SubjectId: holder}, "%s on %d is already on another invoice", e.Name, e.Tooth)
			}
			continue // billed before: not this invoice's
		}
		inv.Lines = append(inv.Lines, line(e, inv.GetCopayPercent()))
	}
	if len(inv.Lines) == 0 {
		return problem(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_NOTHING_TO_BILL, "there are no completed procedures left to bill")
	}
	inv.Version = 0
	return nil
}

// issue makes a draft final.
func issue(inv *molarv1.Invoice, now *timestamppb.Timestamp) error {
	if inv.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT {
		return problem(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_INVOICE_NOT_DRAFT, "only a draft can be issued")
	}
	inv.Status, inv.IssueTime = molarv1.InvoiceStatus_INVOICE_STATUS_ISSUED, now
	return nil
}

// adjust grants a discount of at most the balance.
func adjust(inv *molarv1.Invoice, adj *molarv1.Adjustment) error {
	if inv.GetStatus() == molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
		return problem(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_INVOICE_VOID, "the invoice is void")
	}
	if adj.GetAmount() > inv.GetBalance() {
		err := limited(services.Invalid, molarv1.ProblemReason_PROBLEM_REASON_DISCOUNT_EXCEEDS_BALANCE, adj.GetAmount(), max(inv.GetBalance(), 0),
			"the discount (%d) cannot exceed the balance (%d)", adj.GetAmount(), inv.GetBalance())
		err.Violations = []services.Violation{{Field: "amount", Rule: "billing.adjustment.max", Message: err.Message}}
		return err
	}
	inv.Adjustments = append(inv.Adjustments, adj)
	return nil
}

// void voids an invoice without money on it, which frees its procedures.
func void(inv *molarv1.Invoice, reason string) error {
	if inv.GetStatus() == molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
		return problem(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_INVOICE_VOID, "the invoice is void already")
	}
	if inv.GetPaidTotal() != 0 {
		return limited(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_INVOICE_HAS_PAYMENTS, inv.GetPaidTotal(), 0, "refund the payments before voiding")
	}
	inv.Status, inv.VoidReason = molarv1.InvoiceStatus_INVOICE_STATUS_VOID, strings.TrimSpace(reason)
	return nil
}

// Idempotency keys are opaque and matched exactly. The schema lets a client
// key hold no '/', so the ids derived from one (a payment's parts
// "<key>/<n>", the credit it draws "<key>/credit") never equal another
// client's key; matching does not rely on that, as the service's own
// callers may use any key.

// paid reports whether a payment under key is in the account already.
func (a Account) paid(key string) bool {
	for _, inv := range a.Invoices {
		for _, p := range inv.GetPayments() {
			if partKey(p.GetId()) == key {
				return true
			}
		}
	}
	return false
}

// partID is the id of part n of the payment under key.
func partID(key string, n int) string { return key + "/" + strconv.Itoa(n) }

// partKey returns the key a payment part was recorded under: its id less
// the last "/<n>" (the key before it may hold a slash of its own), or "" if
// id is not a part's id.
func partKey(id string) string {
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return ""
	}
	if n, err := strconv.Atoi(id[i+1:]); err != nil || n < 0 || partID(id[:i], n) != id {
		return ""
	}
	return id[:i]
}

// pay records the parts of a payment on invoice id. Credit parts are drawn
// from the patient's overpaid invoices, oldest first, as refunds to credit
// on those invoices: the returned invoices are the one paid and every source,
// to be committed together, so credit is never spent twice or lost.
func (a Account) pay(id, key string, parts []Part, memo, by string, now *timestamppb.Timestamp, allowOverpayment bool) ([]*molarv1.Invoice, error) {
	if a.paid(key) {
		return nil, errUnchanged
	}
	inv, err := a.editable(id, 0)
	if err != nil {
		return nil, err
	}
	switch inv.GetStatus() {
	case molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT:
		return nil, problem(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_INVOICE_NOT_ISSUED, "issue the invoice before taking payment")
	case molarv1.InvoiceStatus_INVOICE_STATUS_VOID:
		return nil, problem(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_INVOICE_VOID, "the invoice is void")
	}
	var sum, credit int64
	for _, p := range parts {
		sum += p.Amount
		if p.Method == molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT {
			credit += p.Amount
		}
	}
	others := a.without(id)
	if have := others.Credit(); credit > have {
		err := limited(services.Invalid, molarv1.ProblemReason_PROBLEM_REASON_CREDIT_INSUFFICIENT, credit, have, "the patient has %d won of credit, not %d", have, credit)
		err.Violations = []services.Violation{{Field: "parts", Rule: "billing.credit.available", Message: err.Message}}
		return nil, err
	}
	// Credit never pays beyond the balance: it would only move credit about.
	if sum > inv.GetBalance() && (!allowOverpayment || credit > max(inv.GetBalance(), 0)) {
		return nil, limited(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_PAYMENT_EXCEEDS_BALANCE, sum, max(inv.GetBalance(), 0),
			"the payment (%d) is more than the balance (%d)", sum, inv.GetBalance())
	}
	for i, p := range parts {
		inv.Payments = append(inv.Payments, &molarv1.Payment{Id: partID(key, i), Method: p.Method, Amount: p.Amount,
			Time: now, ReceivedBy: by, Memo: strings.TrimSpace(memo), Card: p.Card, CashReceipt: p.CashReceipt})
	}
	touched := []*molarv1.Invoice{inv}
	need := credit
	for _, src := range others.Invoices {
		if need == 0 {
			break
		}
		if src.GetBalance() >= 0 || src.GetStatus() == molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
			continue
		}
		took := min(need, -src.GetBalance())
		src = proto.CloneOf(src)
		src.Refunds = append(src.Refunds, &molarv1.Refund{Id: key + "/credit", PaymentId: creditPayment, Amount: took,
			Reason: "credit used on invoice " + id, Time: now, By: by})
		touched = append(touched, src)
		need -= took
	}
	return touched, nil
}

// creditPayment is the payment id of a refund that moves credit to another
// invoice rather than giving money back.
const creditPayment = "credit"

// without returns the account less one invoice.
func (a Account) without(id string) Account {
	out := a
	out.Invoices = slices.DeleteFunc(slices.Clone(a.Invoices), func(inv *molarv1.Invoice) bool { return inv.GetId() == id })
	return out
}

// refund gives back at most what is left of a payment. Credit drawn onto an
// invoice is not money the clinic holds, so it is not refunded.
func refund(inv *molarv1.Invoice, paymentID string, r *molarv1.Refund) error {
	for _, x := range inv.GetRefunds() {
		// Only a refund someone asked for has a client's key: a transfer of
		// credit carries the key of the payment that drew it.
		if x.GetId() == r.GetId() && x.GetPaymentId() != creditPayment {
			return errUnchanged
		}
	}
	i := slices.IndexFunc(inv.GetPayments(), func(p *molarv1.Payment) bool { return p.GetId() == paymentID })
	if i < 0 {
		return services.Errorf(services.NotFound, "payment not found")
	}
	p := inv.GetPayments()[i]
	if inv.GetStatus() == molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
		return problem(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_INVOICE_VOID, "the invoice is void")
	}
	if p.GetMethod() == molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT {
		return problem(services.FailedPrecondition, molarv1.ProblemReason_PROBLEM_REASON_PAYMENT_METHOD, "credit used on an invoice cannot be refunded as money")
	}
	// Never more than the invoice still holds: what of the payment was
	// passed on as credit to another invoice is not here to give back.
	if left := min(p.GetAmount()-p.GetRefunded(), max(inv.GetPaidTotal(), 0)); r.GetAmount() > left {
		err := limited(services.Invalid, molarv1.ProblemReason_PROBLEM_REASON_REFUND_EXCEEDS_PAYMENT, r.GetAmount(), left, "at most %d won of this payment can be refunded", left)
		err.Violations = []services.Violation{{Field: "amount", Rule: "billing.refund.max", Message: err.Message}}
		return err
	}
	p.Refunded += r.GetAmount()
	inv.Refunds = append(inv.Refunds, r)
	return nil
}

// line prices one procedure: the patient pays the co-pay of an insured fee,
// rounded down to 10 won, and all of an uninsured one.
func line(e CompletedEntry, copay int32) *molarv1.InvoiceLine {
	l := &molarv1.InvoiceLine{EntryId: e.ID, ProcedureCode: e.Code, Name: e.Name, Tooth: e.Tooth, Surfaces: e.Surfaces, Fee: e.Fee,
		Insured: e.Insured, Provider: e.Provider, PatientAmount: e.Fee}
	if e.Insured {
		l.PatientAmount = e.Fee * int64(copay) / 100 / 10 * 10
		l.InsurerAmount = e.Fee - l.PatientAmount
	}
	return l
}

// total recomputes an invoice's sums and status from its parts.
func total(inv *molarv1.Invoice) {
	var fee, insurer, patient, discount, paid int64
	for _, l := range inv.GetLines() {
		fee += l.GetFee()
		insurer += l.GetInsurerAmount()
		patient += l.GetPatientAmount()
	}
	for _, a := range inv.GetAdjustments() {
		discount += a.GetAmount()
	}
	for _, p := range inv.GetPayments() {
		paid += p.GetAmount()
	}
	for _, r := range inv.GetRefunds() {
		paid -= r.GetAmount()
	}
	inv.FeeTotal, inv.InsurerTotal, inv.PatientTotal, inv.DiscountTotal, inv.PaidTotal = fee, insurer, patient, discount, paid
	inv.Balance = patient - discount - paid
	switch inv.GetStatus() {
	case molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT, molarv1.InvoiceStatus_INVOICE_STATUS_VOID:
	default:
		switch {
		case inv.Balance <= 0:
			inv.Status = molarv1.InvoiceStatus_INVOICE_STATUS_PAID
		case paid > 0:
			inv.Status = molarv1.InvoiceStatus_INVOICE_STATUS_PARTIALLY_PAID
		default:
			inv.Status = molarv1.InvoiceStatus_INVOICE_STATUS_ISSUED
		}
	}
}
