package billing

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// DefaultCopayPercent is the patient's share of insured fees when the clinic
// has not set one.
const DefaultCopayPercent = 30

// Service holds the billing rules. A patient's account is a numbered
// sequence of changes: each change (an invoice created, issued, discounted
// or voided; a payment, with any credit it draws; a refund) is decided on
// the account as of change n and committed as change n+1 in one atomic
// write that also carries its audit record. A writer that loses the number
// reads the account again and decides again, so concurrent payments never
// over-collect, none is lost, and credit moves in the same write as the
// payment it pays.
type Service struct {
	store    Store
	chart    Chart
	patients Patients
	clinic   Clinic
	changes  Changes
	audit    *audit.Recorder
	now      func() time.Time
	newID    func() string
	logger   *slog.Logger
}

// Deps are what a Service works with.
type Deps struct {
	Store    Store
	Chart    Chart
	Patients Patients
	Clinic   Clinic
	Changes  Changes
	Audit    *audit.Recorder
	Now      func() time.Time
	NewID    func() string
	Logger   *slog.Logger
}

// NewService returns a Service; call Recover before serving.
func NewService(d Deps) *Service {
	return &Service{store: d.Store, chart: d.Chart, patients: d.Patients, clinic: d.Clinic, changes: d.Changes, audit: d.Audit,
		now: d.Now, newID: d.NewID, logger: d.Logger}
}

// Recover finishes what a process that stopped between a commit and its
// derived copies left undone: every pending change is applied, its audit
// record appended and the change settled. It is idempotent and safe to run
// while other processes write.
func (s *Service) Recover(ctx context.Context) error {
	pending, err := s.store.Pending(ctx)
	if err != nil {
		return err
	}
	for _, c := range pending {
		if err := s.settle(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// account reads a patient's account as of its newest change.
func (s *Service) account(ctx context.Context, patientID string) (Account, error) {
	return s.store.Account(ctx, patientID)
}

// patientOf finds the patient of an invoice.
func (s *Service) patientOf(ctx context.Context, invoiceID string) (string, error) {
	return s.store.PatientOf(ctx, invoiceID)
}

// stamp is now, to the millisecond that storage keeps.
func (s *Service) stamp() *timestamppb.Timestamp {
	return timestamppb.New(s.now().Truncate(time.Millisecond))
}

func actor(ctx context.Context) string {
	if p := services.PrincipalFrom(ctx); p != nil {
		if p.Name != "" {
			return p.Name
		}
		return p.Email
	}
	return ""
}

// Get returns an invoice as of its account's newest change.
func (s *Service) Get(ctx context.Context, id string) (*molarv1.Invoice, error) {
	patientID, err := s.patientOf(ctx, id)
	if err != nil {
		return nil, err
	}
	acct, err := s.account(ctx, patientID)
	if err != nil {
		return nil, err
	}
	if inv := acct.invoice(id); inv != nil {
		return inv, nil
	}
	return nil, services.Errorf(services.NotFound, "invoice not found")
}

// decision is what a change makes of an account: the invoices it touches
// (the first is the one the caller asked about) and its audit record.
type decision func(Account) ([]*molarv1.Invoice, audit.Event, error)

// change decides on the newest account and commits the result as its next
// change, deciding again from the winner's account when another writer
// took the number first. Contention is retried with jittered back-off
// within the request's deadline.
func (s *Service) change(ctx context.Context, patientID string, decide decision) (*molarv1.Invoice, error) {
	wait := services.NewContention()
	for attempt := 0; ; attempt++ {
		acct, err := s.account(ctx, patientID)
		if err != nil {
			return nil, err
		}
		touched, ev, err := decide(acct)
		if err == errUnchanged {
			if touched[0] == nil {
				return nil, services.Errorf(services.NotFound, "invoice not found")
			}
			return touched[0], nil
		}
		if err != nil {
			return nil, err
		}
		for _, inv := range touched {
			inv.Version++
			total(inv)
		}
		c := Change{PatientID: patientID, Seq: acct.Seq + 1, Invoices: touched, Audit: s.audit.Stamp(ctx, ev), Time: s.now()}
		err = s.store.Commit(ctx, c)
		if services.ErrorCode(err) == services.AlreadyExists {
			if attempt >= 50 || !wait.Wait(ctx) {
				return nil, problem(services.Aborted, molarv1.ProblemReason_PROBLEM_REASON_BUSY, "the account is busy; try again")
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		// Committed: from here on nothing may turn the change into a failure.
		if err := s.settle(context.WithoutCancel(ctx), c); err != nil {
			s.logger.WarnContext(ctx, "billing change committed, derived copies left for recovery", "patient_change", c.Seq, "error", err.Error())
		}
		return touched[0], nil
	}
}

// settle brings everything derived from a committed change up to date: the
// newest invoices, this process's memory, the audit trail, the other
// processes. Each step is idempotent; the change stays pending (and is
// settled again by Recover) until they all succeed.
func (s *Service) settle(ctx context.Context, c Change) error {
	if err := s.store.Apply(ctx, c); err != nil {
		return err
	}
	if err := s.audit.Project(ctx, c.Audit); err != nil {
		return err
	}
	if err := s.changes.Publish(ctx, ChangeKind, c.PatientID, c.Seq); err != nil {
		return err
	}
	return s.store.Settle(ctx, c.PatientID, c.Seq)
}

// Create builds a draft from the patient's completed entries that no live
// invoice holds. The account's change number is the claim: two desks
// billing the same visit at once cannot bill a procedure twice.
func (s *Service) Create(ctx context.Context, patientID, appointmentID string, entryIDs []string) (*molarv1.Invoice, error) {
	name, chartNo, err := s.patients.Label(ctx, patientID)
	if err != nil {
		return nil, err
	}
	done, err := s.chart.Completed(ctx, patientID)
	if err != nil {
		return nil, err
	}
	c, err := s.clinic.Get(ctx)
	if err != nil {
		return nil, err
	}
	copay := int32(DefaultCopayPercent)
	if c.CopayPercent != nil {
		copay = c.GetCopayPercent()
	}
	id := s.newID()
	return s.change(ctx, patientID, func(a Account) ([]*molarv1.Invoice, audit.Event, error) {
		inv := &molarv1.Invoice{Id: id, PatientId: patientID, PatientName: name, ChartNumber: chartNo, AppointmentId: appointmentID,
			CopayPercent: copay, Status: molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT, CreateTime: s.stamp()}
		if err := a.draft(inv, done, entryIDs); err != nil {
			return nil, audit.Event{}, err
		}
		total(inv)
		return []*molarv1.Invoice{inv}, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_INVOICE_CREATED, TargetType: "patient", TargetID: patientID,
			Detail: fmt.Sprintf("invoice %s, %d lines, patient share %d", id, len(inv.GetLines()), inv.GetPatientTotal())}, nil
	})
}

// modify commits one change of one invoice: edit sees a copy of the invoice
// at the version the caller saw (0: any) and may refuse.
func (s *Service) modify(ctx context.Context, id string, version int64, action molarv1.AuditAction, what string, edit func(*molarv1.Invoice) error) (*molarv1.Invoice, error) {
	patientID, err := s.patientOf(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, patientID, func(a Account) ([]*molarv1.Invoice, audit.Event, error) {
		inv, err := a.editable(id, version)
		if err != nil {
			return nil, audit.Event{}, err
		}
		if err := edit(inv); err != nil {
			return []*molarv1.Invoice{a.invoice(id)}, audit.Event{}, err
		}
		return []*molarv1.Invoice{inv}, audit.Event{Action: action, TargetType: "patient", TargetID: patientID,
			Detail: fmt.Sprintf("invoice %s %s", id, what)}, nil
	})
}

// Issue makes a draft final.
func (s *Service) Issue(ctx context.Context, id string, version int64) (*molarv1.Invoice, error) {
	return s.modify(ctx, id, version, molarv1.AuditAction_AUDIT_ACTION_INVOICE_CHANGED, "issued", func(inv *molarv1.Invoice) error {
		return issue(inv, s.stamp())
	})
}

// Adjust grants a discount; it cannot take the invoice below what was paid.
func (s *Service) Adjust(ctx context.Context, id string, amount int64, reason string, version int64) (*molarv1.Invoice, error) {
	adj := &molarv1.Adjustment{Id: s.newID(), Amount: amount, Reason: strings.TrimSpace(reason), GrantedBy: actor(ctx), Time: s.stamp()}
	return s.modify(ctx, id, version, molarv1.AuditAction_AUDIT_ACTION_INVOICE_CHANGED, fmt.Sprintf("discount %d: %s", amount, reason), func(inv *molarv1.Invoice) error {
		return adjust(inv, adj)
	})
}

// Void voids an invoice, which frees its procedures for a new one. An
// invoice with money on it must be refunded first.
func (s *Service) Void(ctx context.Context, id, reason string, version int64) (*molarv1.Invoice, error) {
	return s.modify(ctx, id, version, molarv1.AuditAction_AUDIT_ACTION_INVOICE_CHANGED, "voided: "+reason, func(inv *molarv1.Invoice) error {
		return void(inv, reason)
	})
}

// Part is one method's share of a payment.
type Part struct {
	Method molarv1.PaymentMethod
	Amount int64
	// Card is the slip's details of a card part; CashReceipt the receipt
	// issued for a cash or transfer part. Either may be nil.
	Card        *molarv1.CardDetails
	CashReceipt *molarv1.CashReceipt
}

// Pay records a payment of one or more parts. The idempotency key makes a
// retry harmless: a payment already recorded under it is not recorded
// again. Paying more than the balance leaves the patient in credit, with
// consent; credit (method CREDIT) is drawn from the patient's overpaid
// invoices in the same commit as the payment.
func (s *Service) Pay(ctx context.Context, id, key string, parts []Part, memo string, allowOverpayment bool) (*molarv1.Invoice, error) {
	patientID, err := s.patientOf(ctx, id)
	if err != nil {
		return nil, err
	}
	var sum int64
	for _, p := range parts {
		sum += p.Amount
	}
	by, now := actor(ctx), s.stamp()
	return s.change(ctx, patientID, func(a Account) ([]*molarv1.Invoice, audit.Event, error) {
		touched, err := a.pay(id, key, parts, memo, by, now, allowOverpayment)
		if err == errUnchanged {
			return []*molarv1.Invoice{a.invoice(id)}, audit.Event{}, err
		}
		return touched, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_PAYMENT_RECORDED, TargetType: "patient", TargetID: patientID,
			Detail: fmt.Sprintf("invoice %s payment %d", id, sum)}, err
	})
}

// Refund gives back part or all of a payment.
func (s *Service) Refund(ctx context.Context, id, paymentID string, amount int64, reason, key string) (*molarv1.Invoice, error) {
	r := &molarv1.Refund{Id: key, PaymentId: paymentID, Amount: amount, Reason: strings.TrimSpace(reason), Time: s.stamp(), By: actor(ctx)}
	return s.modify(ctx, id, 0, molarv1.AuditAction_AUDIT_ACTION_PAYMENT_REFUNDED, fmt.Sprintf("refund %d of %s", amount, paymentID), func(inv *molarv1.Invoice) error {
		return refund(inv, paymentID, r)
	})
}

// Ledger lists a patient's account, oldest first, with the running balance.
func (s *Service) Ledger(ctx context.Context, patientID string) ([]*molarv1.LedgerEntry, int64, []*molarv1.Invoice, error) {
	acct, err := s.account(ctx, patientID)
	if err != nil {
		return nil, 0, nil, err
	}
	invs := slices.Clone(acct.Invoices)
	slices.SortStableFunc(invs, func(a, b *molarv1.Invoice) int { return a.GetCreateTime().AsTime().Compare(b.GetCreateTime().AsTime()) })
	var es []*molarv1.LedgerEntry
	add := func(t *timestamppb.Timestamp, inv *molarv1.Invoice, kind, desc string, amount int64) *molarv1.LedgerEntry {
		e := &molarv1.LedgerEntry{Time: t, InvoiceId: inv.GetId(), Kind: kind, Description: desc, Amount: amount}
		es = append(es, e)
		return e
	}
	for _, inv := range invs {
		if inv.GetIssueTime() == nil {
			continue // drafts owe nothing yet
		}
		add(inv.GetIssueTime(), inv, "invoice", "", inv.GetPatientTotal()).ProcedureCount = int32(len(inv.GetLines()))
		for _, a := range inv.GetAdjustments() {
			add(a.GetTime(), inv, "adjustment", a.GetReason(), -a.GetAmount())
		}
		for _, p := range inv.GetPayments() {
			add(p.GetTime(), inv, "payment", "", -p.GetAmount()).Payment = p
		}
		for _, r := range inv.GetRefunds() {
			add(r.GetTime(), inv, "refund", r.GetReason(), r.GetAmount())
		}
	}
	slices.SortStableFunc(es, func(a, b *molarv1.LedgerEntry) int { return a.GetTime().AsTime().Compare(b.GetTime().AsTime()) })
	var bal int64
	for _, e := range es {
		bal += e.GetAmount()
		e.Balance = bal
	}
	slices.Reverse(invs)
	return es, bal, invs, nil
}

// Closing sums the days from..to (inclusive, clinic time zone).
func (s *Service) Closing(ctx context.Context, from, to string) (*molarv1.GetDailyClosingResponse, error) {
	c, err := s.clinic.Get(ctx)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(c.GetTimeZone())
	if err != nil {
		loc = time.UTC
	}
	in := func(t *timestamppb.Timestamp) bool {
		d := t.AsTime().In(loc).Format(time.DateOnly)
		return t != nil && d >= from && d <= to
	}
	first, err1 := time.ParseInLocation(time.DateOnly, from, loc)
	last, err2 := time.ParseInLocation(time.DateOnly, to, loc)
	if err1 != nil || err2 != nil || last.Before(first) || last.After(first.AddDate(1, 0, 0)) {
		return nil, services.InvalidFields(services.Violation{Field: "end_date", Rule: "billing.range", Message: "give real dates, the end not before the start and at most a year after it"})
	}
	owing, err := s.store.Owing(ctx)
	if err != nil {
		return nil, err
	}
	active, err := s.store.Active(ctx, first, last.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	out := &molarv1.GetDailyClosingResponse{}
	for _, inv := range owing {
		if counts(inv) {
			out.Outstanding += inv.GetBalance()
		}
	}
	methods := map[molarv1.PaymentMethod]*molarv1.MethodTotal{}
	production := map[string]int64{}
	for _, inv := range active {
		if counts(inv) {
			if in(inv.GetIssueTime()) {
				for _, l := range inv.GetLines() {
					production[l.GetProvider()] += l.GetFee()
				}
			}
		}
		for _, p := range inv.GetPayments() {
			if !in(p.GetTime()) || p.GetMethod() == molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT {
				continue
			}
			m := methods[p.GetMethod()]
			if m == nil {
				m = &molarv1.MethodTotal{Method: p.GetMethod()}
				methods[p.GetMethod()] = m
			}
			m.Amount += p.GetAmount()
			m.Count++
			out.Payments = append(out.Payments, p)
			out.Entries = append(out.Entries, closingEntry(inv, p, nil))
		}
		for _, r := range inv.GetRefunds() {
			if in(r.GetTime()) && r.GetPaymentId() != "credit" {
				out.Refunds += r.GetAmount()
				i := slices.IndexFunc(inv.GetPayments(), func(p *molarv1.Payment) bool { return p.GetId() == r.GetPaymentId() })
				var paid *molarv1.Payment
				if i >= 0 {
					paid = inv.GetPayments()[i]
				}
				out.Entries = append(out.Entries, closingEntry(inv, paid, r))
			}
		}
		for _, a := range inv.GetAdjustments() {
			if in(a.GetTime()) {
				out.Discounts += a.GetAmount()
			}
		}
	}
	for _, m := range methods {
		out.Collections = append(out.Collections, m)
		out.NetCollections += m.GetAmount()
	}
	out.NetCollections -= out.Refunds
	slices.SortFunc(out.Collections, func(a, b *molarv1.MethodTotal) int { return int(a.GetMethod() - b.GetMethod()) })
	for p, amt := range production {
		out.Production = append(out.Production, &molarv1.ProviderTotal{Provider: p, Amount: amt})
	}
	slices.SortFunc(out.Production, func(a, b *molarv1.ProviderTotal) int { return strings.Compare(a.GetProvider(), b.GetProvider()) })
	slices.SortFunc(out.Payments, func(a, b *molarv1.Payment) int { return a.GetTime().AsTime().Compare(b.GetTime().AsTime()) })
	slices.SortStableFunc(out.Entries, func(a, b *molarv1.ClosingEntry) int { return entryTime(a).Compare(entryTime(b)) })
	return out, nil
}

// closingEntry is a payment, or a refund from it, with whose it is.
func closingEntry(inv *molarv1.Invoice, p *molarv1.Payment, r *molarv1.Refund) *molarv1.ClosingEntry {
	return &molarv1.ClosingEntry{Payment: p, Refund: r, InvoiceId: inv.GetId(), PatientId: inv.GetPatientId(),
		PatientName: inv.GetPatientName(), ChartNumber: inv.GetChartNumber()}
}

// entryTime is when a closing entry happened.
func entryTime(e *molarv1.ClosingEntry) time.Time {
	if e.GetRefund() != nil {
		return e.GetRefund().GetTime().AsTime()
	}
	return e.GetPayment().GetTime().AsTime()
}

// Outstanding lists patients who owe money, by amount (largest first) or
// by age of the debt (oldest first).
func (s *Service) Outstanding(ctx context.Context, orderBy string) ([]*molarv1.Debtor, error) {
	owing, err := s.store.Owing(ctx)
	if err != nil {
		return nil, err
	}
	byPatient := map[string]*molarv1.Debtor{}
	for _, inv := range owing {
		if inv.GetBalance() <= 0 || inv.GetIssueTime() == nil || !counts(inv) {
			continue
		}
		d := byPatient[inv.GetPatientId()]
		if d == nil {
			d = &molarv1.Debtor{PatientId: inv.GetPatientId(), PatientName: inv.GetPatientName(), ChartNumber: inv.GetChartNumber(), Since: inv.GetIssueTime()}
			byPatient[inv.GetPatientId()] = d
		}
		d.Amount += inv.GetBalance()
		if inv.GetIssueTime().AsTime().Before(d.GetSince().AsTime()) {
			d.Since = inv.GetIssueTime()
		}
	}
	var out []*molarv1.Debtor
	for _, d := range byPatient {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *molarv1.Debtor) int {
		if orderBy == "age" {
			return a.GetSince().AsTime().Compare(b.GetSince().AsTime())
		}
		return int(b.GetAmount() - a.GetAmount())
	})
	return out, nil
}

// counts reports whether an invoice is on the books: issued and not void.
func counts(inv *molarv1.Invoice) bool {
	return inv.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT && inv.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_VOID
}
