package billing

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// DefaultCopayPercent is the patient's share of insured fees when the clinic
// has not set one.
const DefaultCopayPercent = 30

// Service holds the billing rules. Every change to an invoice is a new
// version that only one writer can store; a writer that loses starts again
// from the winner's version and checks its rules again, so concurrent
// payments never over-collect and none is lost.
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

	mu       sync.RWMutex
	invoices map[string]*molarv1.Invoice
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

// NewService returns a Service; call Load before serving.
func NewService(d Deps) *Service {
	return &Service{store: d.Store, chart: d.Chart, patients: d.Patients, clinic: d.Clinic, changes: d.Changes, audit: d.Audit,
		now: d.Now, newID: d.NewID, logger: d.Logger, invoices: map[string]*molarv1.Invoice{}}
}

// Load reads every invoice into memory.
func (s *Service) Load(ctx context.Context) error {
	all, err := s.store.All(ctx)
	if err != nil {
		return err
	}
	for _, inv := range all {
		s.remember(inv)
	}
	return nil
}

// Refresh rereads invoices another process changed.
func (s *Service) Refresh(ctx context.Context, ids []string) {
	for _, id := range ids {
		if inv, err := s.latest(ctx, id); err == nil {
			s.remember(inv)
		}
	}
}

func (s *Service) remember(inv *molarv1.Invoice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.invoices[inv.GetId()]; !ok || cur.GetVersion() < inv.GetVersion() {
		s.invoices[inv.GetId()] = inv
	}
}

func (s *Service) latest(ctx context.Context, id string) (*molarv1.Invoice, error) {
	s.mu.RLock()
	hint := s.invoices[id].GetVersion()
	s.mu.RUnlock()
	return s.store.Latest(ctx, id, hint)
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

// Get returns an invoice.
func (s *Service) Get(ctx context.Context, id string) (*molarv1.Invoice, error) {
	return s.latest(ctx, id)
}

// Create builds a draft from completed entries not billed yet. Each entry
// is claimed for the invoice by an insert, so two desks billing the same
// visit at once cannot bill a procedure twice.
func (s *Service) Create(ctx context.Context, patientID, appointmentID string, entryIDs []string) (*molarv1.Invoice, error) {
	name, chartNo, err := s.patients.Label(ctx, patientID)
	if err != nil {
		return nil, err
	}
	done, err := s.chart.Completed(ctx, patientID)
	if err != nil {
		return nil, err
	}
	if len(entryIDs) > 0 {
		done = slices.DeleteFunc(done, func(e CompletedEntry) bool { return !slices.Contains(entryIDs, e.ID) })
		if len(done) != len(entryIDs) {
			return nil, services.InvalidFields(services.Violation{Field: "entry_ids", Rule: "billing.entries.completed", Message: "bill only completed procedures of this patient"})
		}
	}
	c, err := s.clinic.Get(ctx)
	if err != nil {
		return nil, err
	}
	copay := int32(DefaultCopayPercent)
	if c.CopayPercent != nil {
		copay = c.GetCopayPercent()
	}
	inv := &molarv1.Invoice{Id: s.newID(), PatientId: patientID, PatientName: name, ChartNumber: chartNo, AppointmentId: appointmentID,
		CopayPercent: copay, Status: molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT, CreateTime: timestamppb.New(s.now()), Version: 1}
	var claimed []string
	for _, e := range done {
		err := s.store.ClaimEntry(ctx, e.ID, inv.GetId())
		if services.ErrorCode(err) == services.AlreadyExists {
			if len(entryIDs) > 0 {
				s.release(ctx, claimed, inv.GetId())
				return nil, services.Errorf(services.FailedPrecondition, "%s on %d is already on another invoice", e.Name, e.Tooth)
			}
			continue // billed before: not this invoice's
		}
		if err != nil {
			s.release(ctx, claimed, inv.GetId())
			return nil, err
		}
		claimed = append(claimed, e.ID)
		inv.Lines = append(inv.Lines, line(e, copay))
	}
	if len(inv.Lines) == 0 {
		return nil, services.Errorf(services.FailedPrecondition, "there are no completed procedures left to bill")
	}
	total(inv)
	if err := s.store.Insert(ctx, inv); err != nil {
		s.release(ctx, claimed, inv.GetId())
		return nil, err
	}
	s.saved(ctx, inv)
	return inv, s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_INVOICE_CREATED, TargetType: "patient", TargetID: patientID,
		Detail: fmt.Sprintf("invoice %s, %d lines, patient share %d", inv.GetId(), len(inv.GetLines()), inv.GetPatientTotal())})
}

func (s *Service) release(ctx context.Context, entries []string, invoiceID string) {
	for _, e := range entries {
		if err := s.store.ReleaseEntry(context.WithoutCancel(ctx), e, invoiceID); err != nil {
			s.logger.Warn("chart entry not released", "entry", e, "error", err.Error())
		}
	}
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

// modify applies change to the newest version of an invoice and stores the
// next version, starting again if another writer won. change sees the
// current invoice and may refuse; returning errUnchanged means the change is
// already there (an idempotent retry).
func (s *Service) modify(ctx context.Context, id string, change func(*molarv1.Invoice) error) (*molarv1.Invoice, error) {
	for range 20 {
		cur, err := s.latest(ctx, id)
		if err != nil {
			return nil, err
		}
		next := proto.CloneOf(cur)
		if err := change(next); err == errUnchanged {
			return cur, nil
		} else if err != nil {
			return nil, err
		}
		next.Version = cur.GetVersion() + 1
		total(next)
		err = s.store.Insert(ctx, next)
		if services.ErrorCode(err) == services.AlreadyExists {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.saved(ctx, next)
		return next, nil
	}
	return nil, services.Errorf(services.Aborted, "the invoice is busy; try again")
}

var errUnchanged = fmt.Errorf("unchanged")

func (s *Service) saved(ctx context.Context, inv *molarv1.Invoice) {
	s.remember(inv)
	if err := s.changes.Publish(ctx, ChangeKind, inv.GetId(), inv.GetVersion()); err != nil {
		s.logger.Warn("invoice change not published", "error", err.Error())
	}
}

func stale(inv *molarv1.Invoice, version int64) error {
	if inv.GetVersion() != version {
		return services.Errorf(services.Aborted, "the invoice was changed by someone else; reload and try again")
	}
	return nil
}

// Issue makes a draft final.
func (s *Service) Issue(ctx context.Context, id string, version int64) (*molarv1.Invoice, error) {
	inv, err := s.modify(ctx, id, func(inv *molarv1.Invoice) error {
		if err := stale(inv, version); err != nil {
			return err
		}
		if inv.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT {
			return services.Errorf(services.FailedPrecondition, "only a draft can be issued")
		}
		inv.Status, inv.IssueTime = molarv1.InvoiceStatus_INVOICE_STATUS_ISSUED, timestamppb.New(s.now())
		return nil
	})
	return s.audited(ctx, inv, err, molarv1.AuditAction_AUDIT_ACTION_INVOICE_CHANGED, "issued")
}

func (s *Service) audited(ctx context.Context, inv *molarv1.Invoice, err error, action molarv1.AuditAction, what string) (*molarv1.Invoice, error) {
	if err != nil {
		return nil, err
	}
	return inv, s.audit.Record(ctx, audit.Event{Action: action, TargetType: "patient", TargetID: inv.GetPatientId(),
		Detail: fmt.Sprintf("invoice %s %s", inv.GetId(), what)})
}

// Adjust grants a discount; it cannot take the invoice below what was paid.
func (s *Service) Adjust(ctx context.Context, id string, amount int64, reason string, version int64) (*molarv1.Invoice, error) {
	inv, err := s.modify(ctx, id, func(inv *molarv1.Invoice) error {
		if err := stale(inv, version); err != nil {
			return err
		}
		if inv.GetStatus() == molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
			return services.Errorf(services.FailedPrecondition, "the invoice is void")
		}
		if amount > inv.GetBalance() {
			return services.InvalidFields(services.Violation{Field: "amount", Rule: "billing.adjustment.max", Message: fmt.Sprintf("the discount cannot exceed the balance (%d)", inv.GetBalance())})
		}
		inv.Adjustments = append(inv.Adjustments, &molarv1.Adjustment{Id: s.newID(), Amount: amount, Reason: strings.TrimSpace(reason),
			GrantedBy: actor(ctx), Time: timestamppb.New(s.now())})
		return nil
	})
	return s.audited(ctx, inv, err, molarv1.AuditAction_AUDIT_ACTION_INVOICE_CHANGED, fmt.Sprintf("discount %d: %s", amount, reason))
}

// Void voids an invoice and frees its procedures for a new one. An invoice
// with money on it must be refunded first.
func (s *Service) Void(ctx context.Context, id, reason string, version int64) (*molarv1.Invoice, error) {
	inv, err := s.modify(ctx, id, func(inv *molarv1.Invoice) error {
		if err := stale(inv, version); err != nil {
			return err
		}
		if inv.GetStatus() == molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
			return services.Errorf(services.FailedPrecondition, "the invoice is void already")
		}
		if inv.GetPaidTotal() != 0 {
			return services.Errorf(services.FailedPrecondition, "refund the payments before voiding")
		}
		inv.Status, inv.VoidReason = molarv1.InvoiceStatus_INVOICE_STATUS_VOID, strings.TrimSpace(reason)
		return nil
	})
	if err == nil {
		var entries []string
		for _, l := range inv.GetLines() {
			entries = append(entries, l.GetEntryId())
		}
		s.release(ctx, entries, id)
	}
	return s.audited(ctx, inv, err, molarv1.AuditAction_AUDIT_ACTION_INVOICE_CHANGED, "voided: "+reason)
}

// Part is one method's share of a payment.
type Part struct {
	Method molarv1.PaymentMethod
	Amount int64
}

// Pay records a payment of one or more parts. The idempotency key makes a
// retry harmless: a payment already recorded under it is not recorded
// again. Paying more than the balance leaves the patient in credit; credit
// itself (method CREDIT) is drawn from the patient's other invoices.
func (s *Service) Pay(ctx context.Context, id, key string, parts []Part, memo string, allowOverpayment bool) (*molarv1.Invoice, error) {
	var credit int64
	for _, p := range parts {
		if p.Method == molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT {
			credit += p.Amount
		}
	}
	if credit > 0 {
		if err := s.drawCredit(ctx, id, key, credit); err != nil {
			return nil, err
		}
	}
	by, now := actor(ctx), timestamppb.New(s.now())
	inv, err := s.modify(ctx, id, func(inv *molarv1.Invoice) error {
		for _, p := range inv.GetPayments() {
			if strings.HasPrefix(p.GetId(), key+"/") {
				return errUnchanged
			}
		}
		switch inv.GetStatus() {
		case molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT:
			return services.Errorf(services.FailedPrecondition, "issue the invoice before taking payment")
		case molarv1.InvoiceStatus_INVOICE_STATUS_VOID:
			return services.Errorf(services.FailedPrecondition, "the invoice is void")
		}
		var sum int64
		for _, p := range parts {
			sum += p.Amount
		}
		if sum > inv.GetBalance() && !allowOverpayment {
			return services.Errorf(services.FailedPrecondition, "the payment (%d) is more than the balance (%d)", sum, inv.GetBalance())
		}
		for i, p := range parts {
			inv.Payments = append(inv.Payments, &molarv1.Payment{Id: fmt.Sprintf("%s/%d", key, i), Method: p.Method, Amount: p.Amount,
				Time: now, ReceivedBy: by, Memo: strings.TrimSpace(memo)})
		}
		return nil
	})
	var sum int64
	for _, p := range parts {
		sum += p.Amount
	}
	return s.audited(ctx, inv, err, molarv1.AuditAction_AUDIT_ACTION_PAYMENT_RECORDED, fmt.Sprintf("payment %d", sum))
}

// drawCredit moves credit from the patient's overpaid invoices to this one:
// each source gives it up as a refund-to-credit in its own version step, so
// the same credit can never be spent twice.
func (s *Service) drawCredit(ctx context.Context, target, key string, amount int64) error {
	inv, err := s.latest(ctx, target)
	if err != nil {
		return err
	}
	need := amount
	for _, src := range s.patientInvoices(inv.GetPatientId()) {
		if need == 0 {
			break
		}
		if src.GetId() == target || src.GetBalance() >= 0 {
			continue
		}
		refID := key + "/credit"
		var took int64
		_, err := s.modify(ctx, src.GetId(), func(si *molarv1.Invoice) error {
			for _, r := range si.GetRefunds() {
				if r.GetId() == refID {
					took = r.GetAmount()
					return errUnchanged
				}
			}
			took = min(need, -si.GetBalance())
			if took <= 0 {
				return errUnchanged
			}
			si.Refunds = append(si.Refunds, &molarv1.Refund{Id: refID, PaymentId: "credit", Amount: took, Reason: "credit used on invoice " + target,
				Time: timestamppb.New(s.now()), By: actor(ctx)})
			return nil
		})
		if err != nil {
			return err
		}
		need -= took
	}
	if need > 0 {
		return services.InvalidFields(services.Violation{Field: "parts", Rule: "billing.credit.available", Message: fmt.Sprintf("the patient has %d won less credit than that", need)})
	}
	return nil
}

// Refund gives back part or all of a payment.
func (s *Service) Refund(ctx context.Context, id, paymentID string, amount int64, reason, key string) (*molarv1.Invoice, error) {
	inv, err := s.modify(ctx, id, func(inv *molarv1.Invoice) error {
		for _, r := range inv.GetRefunds() {
			if r.GetId() == key {
				return errUnchanged
			}
		}
		i := slices.IndexFunc(inv.GetPayments(), func(p *molarv1.Payment) bool { return p.GetId() == paymentID })
		if i < 0 {
			return services.Errorf(services.NotFound, "payment not found")
		}
		p := inv.GetPayments()[i]
		if amount > p.GetAmount()-p.GetRefunded() {
			return services.InvalidFields(services.Violation{Field: "amount", Rule: "billing.refund.max", Message: fmt.Sprintf("at most %d won of this payment can be refunded", p.GetAmount()-p.GetRefunded())})
		}
		p.Refunded += amount
		inv.Refunds = append(inv.Refunds, &molarv1.Refund{Id: key, PaymentId: paymentID, Amount: amount, Reason: strings.TrimSpace(reason),
			Time: timestamppb.New(s.now()), By: actor(ctx)})
		return nil
	})
	return s.audited(ctx, inv, err, molarv1.AuditAction_AUDIT_ACTION_PAYMENT_REFUNDED, fmt.Sprintf("refund %d of %s", amount, paymentID))
}

func (s *Service) patientInvoices(patientID string) []*molarv1.Invoice {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*molarv1.Invoice
	for _, inv := range s.invoices {
		if inv.GetPatientId() == patientID {
			out = append(out, inv)
		}
	}
	slices.SortFunc(out, func(a, b *molarv1.Invoice) int { return a.GetCreateTime().AsTime().Compare(b.GetCreateTime().AsTime()) })
	return out
}

// Ledger lists a patient's account, oldest first, with the running balance.
func (s *Service) Ledger(patientID string) ([]*molarv1.LedgerEntry, int64, []*molarv1.Invoice) {
	invs := s.patientInvoices(patientID)
	var es []*molarv1.LedgerEntry
	add := func(t *timestamppb.Timestamp, inv *molarv1.Invoice, kind, desc string, amount int64) {
		es = append(es, &molarv1.LedgerEntry{Time: t, InvoiceId: inv.GetId(), Kind: kind, Description: desc, Amount: amount})
	}
	for _, inv := range invs {
		if inv.GetIssueTime() == nil {
			continue // drafts owe nothing yet
		}
		add(inv.GetIssueTime(), inv, "invoice", fmt.Sprintf("%d procedures", len(inv.GetLines())), inv.GetPatientTotal())
		for _, a := range inv.GetAdjustments() {
			add(a.GetTime(), inv, "adjustment", a.GetReason(), -a.GetAmount())
		}
		for _, p := range inv.GetPayments() {
			add(p.GetTime(), inv, "payment", p.GetMethod().String(), -p.GetAmount())
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
	return es, bal, invs
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
	out := &molarv1.GetDailyClosingResponse{}
	methods := map[molarv1.PaymentMethod]*molarv1.MethodTotal{}
	production := map[string]int64{}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, inv := range s.invoices {
		if inv.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT && inv.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
			if inv.GetBalance() > 0 {
				out.Outstanding += inv.GetBalance()
			}
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
		}
		for _, r := range inv.GetRefunds() {
			if in(r.GetTime()) && r.GetPaymentId() != "credit" {
				out.Refunds += r.GetAmount()
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
	return out, nil
}

// Outstanding lists patients who owe money, by amount (largest first) or
// by age of the debt (oldest first).
func (s *Service) Outstanding(orderBy string) []*molarv1.Debtor {
	s.mu.RLock()
	byPatient := map[string]*molarv1.Debtor{}
	for _, inv := range s.invoices {
		if inv.GetBalance() <= 0 || inv.GetIssueTime() == nil || inv.GetStatus() == molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
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
	s.mu.RUnlock()
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
	return out
}
