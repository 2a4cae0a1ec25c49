package mongo

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// The stored form of invoices: documents with real fields, so MongoDB's
// queries, indexes and tools can see them, and the storage format does not
// follow the API schema by accident. Times are BSON dates (milliseconds).

type invoiceDoc struct {
	ID            string          `bson:"id"`
	PatientID     string          `bson:"patient_id"`
	PatientName   string          `bson:"patient_name"`
	ChartNumber   int64           `bson:"chart_number"`
	AppointmentID string          `bson:"appointment_id,omitempty"`
	Lines         []lineDoc       `bson:"lines"`
	CopayPercent  int32           `bson:"copay_percent"`
	Adjustments   []adjustmentDoc `bson:"adjustments,omitempty"`
	Payments      []paymentDoc    `bson:"payments,omitempty"`
	Refunds       []refundDoc     `bson:"refunds,omitempty"`
	FeeTotal      int64           `bson:"fee_total"`
	InsurerTotal  int64           `bson:"insurer_total"`
	PatientTotal  int64           `bson:"patient_total"`
	DiscountTotal int64           `bson:"discount_total"`
	PaidTotal     int64           `bson:"paid_total"`
	Balance       int64           `bson:"balance"`
	Status        string          `bson:"status"`
	VoidReason    string          `bson:"void_reason,omitempty"`
	Created       time.Time       `bson:"created"`
	Issued        *time.Time      `bson:"issued,omitempty"`
	Version       int64           `bson:"version"`
}

type lineDoc struct {
	EntryID       string `bson:"entry_id"`
	ProcedureCode string `bson:"procedure_code"`
	Name          string `bson:"name"`
	Tooth         int32  `bson:"tooth,omitempty"`
	Surfaces      string `bson:"surfaces,omitempty"`
	Fee           int64  `bson:"fee"`
	Insured       bool   `bson:"insured"`
	PatientAmount int64  `bson:"patient_amount"`
	InsurerAmount int64  `bson:"insurer_amount"`
	Provider      string `bson:"provider,omitempty"`
}

type adjustmentDoc struct {
	ID        string    `bson:"id"`
	Amount    int64     `bson:"amount"`
	Reason    string    `bson:"reason"`
	GrantedBy string    `bson:"granted_by"`
	At        time.Time `bson:"at"`
}

type paymentDoc struct {
	ID         string    `bson:"id"`
	Method     string    `bson:"method"`
	Amount     int64     `bson:"amount"`
	At         time.Time `bson:"at"`
	ReceivedBy string    `bson:"received_by"`
	Memo       string    `bson:"memo,omitempty"`
	Refunded   int64     `bson:"refunded"`
	Card       *cardDoc  `bson:"card,omitempty"`
	// CashReceipt is the cash receipt's purpose ("INCOME_DEDUCTION",
	// "EXPENSE_PROOF") and approval number.
	CashReceipt *cashReceiptDoc `bson:"cash_receipt,omitempty"`
}

type cardDoc struct {
	Issuer            string `bson:"issuer,omitempty"`
	ApprovalNumber    string `bson:"approval_number,omitempty"`
	InstallmentMonths int32  `bson:"installment_months,omitempty"`
}

type cashReceiptDoc struct {
	Purpose        string `bson:"purpose"`
	ApprovalNumber string `bson:"approval_number,omitempty"`
}

func cardDocOf(c *molarv1.CardDetails) *cardDoc {
	if c == nil {
		return nil
	}
	return &cardDoc{Issuer: c.GetIssuer(), ApprovalNumber: c.GetApprovalNumber(), InstallmentMonths: c.GetInstallmentMonths()}
}

func (d *cardDoc) card() *molarv1.CardDetails {
	if d == nil {
		return nil
	}
	return &molarv1.CardDetails{Issuer: d.Issuer, ApprovalNumber: d.ApprovalNumber, InstallmentMonths: d.InstallmentMonths}
}

func cashReceiptDocOf(c *molarv1.CashReceipt) *cashReceiptDoc {
	if c == nil {
		return nil
	}
	return &cashReceiptDoc{Purpose: enumName(c.GetPurpose().String(), "CASH_RECEIPT_PURPOSE_"), ApprovalNumber: c.GetApprovalNumber()}
}

func (d *cashReceiptDoc) cashReceipt() *molarv1.CashReceipt {
	if d == nil {
		return nil
	}
	return &molarv1.CashReceipt{Purpose: molarv1.CashReceiptPurpose(molarv1.CashReceiptPurpose_value["CASH_RECEIPT_PURPOSE_"+d.Purpose]),
		ApprovalNumber: d.ApprovalNumber}
}

type refundDoc struct {
	ID        string    `bson:"id"`
	PaymentID string    `bson:"payment_id"`
	Amount    int64     `bson:"amount"`
	Reason    string    `bson:"reason"`
	At        time.Time `bson:"at"`
	By        string    `bson:"by"`
}

// Status and method names are stored as their schema names without the
// prefix ("PAID", "CARD"), so a renumbered enum cannot change stored data.
func enumName(full, prefix string) string { return full[len(prefix):] }

func invoiceStatus(name string) molarv1.InvoiceStatus {
	return molarv1.InvoiceStatus(molarv1.InvoiceStatus_value["INVOICE_STATUS_"+name])
}

func paymentMethod(name string) molarv1.PaymentMethod {
	return molarv1.PaymentMethod(molarv1.PaymentMethod_value["PAYMENT_METHOD_"+name])
}

func bsonTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ms(ts.AsTime())
}

func protoTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func toInvoiceDoc(inv *molarv1.Invoice) invoiceDoc {
	d := invoiceDoc{ID: inv.GetId(), PatientID: inv.GetPatientId(), PatientName: inv.GetPatientName(), ChartNumber: inv.GetChartNumber(),
		AppointmentID: inv.GetAppointmentId(), CopayPercent: inv.GetCopayPercent(), FeeTotal: inv.GetFeeTotal(), InsurerTotal: inv.GetInsurerTotal(),
		PatientTotal: inv.GetPatientTotal(), DiscountTotal: inv.GetDiscountTotal(), PaidTotal: inv.GetPaidTotal(), Balance: inv.GetBalance(),
		Status: enumName(inv.GetStatus().String(), "INVOICE_STATUS_"), VoidReason: inv.GetVoidReason(), Created: bsonTime(inv.GetCreateTime()),
		Version: inv.GetVersion(), Lines: []lineDoc{}}
	if inv.GetIssueTime() != nil {
		t := bsonTime(inv.GetIssueTime())
		d.Issued = &t
	}
	for _, l := range inv.GetLines() {
		d.Lines = append(d.Lines, lineDoc{EntryID: l.GetEntryId(), ProcedureCode: l.GetProcedureCode(), Name: l.GetName(), Tooth: l.GetTooth(),
			Surfaces: l.GetSurfaces(), Fee: l.GetFee(), Insured: l.GetInsured(), PatientAmount: l.GetPatientAmount(), InsurerAmount: l.GetInsurerAmount(),
			Provider: l.GetProvider()})
	}
	for _, a := range inv.GetAdjustments() {
		d.Adjustments = append(d.Adjustments, adjustmentDoc{ID: a.GetId(), Amount: a.GetAmount(), Reason: a.GetReason(), GrantedBy: a.GetGrantedBy(), At: bsonTime(a.GetTime())})
	}
	for _, p := range inv.GetPayments() {
		d.Payments = append(d.Payments, paymentDoc{ID: p.GetId(), Method: enumName(p.GetMethod().String(), "PAYMENT_METHOD_"), Amount: p.GetAmount(),
			At: bsonTime(p.GetTime()), ReceivedBy: p.GetReceivedBy(), Memo: p.GetMemo(), Refunded: p.GetRefunded(),
			Card: cardDocOf(p.GetCard()), CashReceipt: cashReceiptDocOf(p.GetCashReceipt())})
	}
	for _, r := range inv.GetRefunds() {
		d.Refunds = append(d.Refunds, refundDoc{ID: r.GetId(), PaymentID: r.GetPaymentId(), Amount: r.GetAmount(), Reason: r.GetReason(), At: bsonTime(r.GetTime()), By: r.GetBy()})
	}
	return d
}

func (d invoiceDoc) invoice() *molarv1.Invoice {
	inv := &molarv1.Invoice{Id: d.ID, PatientId: d.PatientID, PatientName: d.PatientName, ChartNumber: d.ChartNumber, AppointmentId: d.AppointmentID,
		CopayPercent: d.CopayPercent, FeeTotal: d.FeeTotal, InsurerTotal: d.InsurerTotal, PatientTotal: d.PatientTotal, DiscountTotal: d.DiscountTotal,
		PaidTotal: d.PaidTotal, Balance: d.Balance, Status: invoiceStatus(d.Status), VoidReason: d.VoidReason, CreateTime: protoTime(d.Created), Version: d.Version}
	if d.Issued != nil {
		inv.IssueTime = protoTime(*d.Issued)
	}
	for _, l := range d.Lines {
		inv.Lines = append(inv.Lines, &molarv1.InvoiceLine{EntryId: l.EntryID, ProcedureCode: l.ProcedureCode, Name: l.Name, Tooth: l.Tooth, Surfaces: l.Surfaces,
			Fee: l.Fee, Insured: l.Insured, PatientAmount: l.PatientAmount, InsurerAmount: l.InsurerAmount, Provider: l.Provider})
	}
	for _, a := range d.Adjustments {
		inv.Adjustments = append(inv.Adjustments, &molarv1.Adjustment{Id: a.ID, Amount: a.Amount, Reason: a.Reason, GrantedBy: a.GrantedBy, Time: protoTime(a.At)})
	}
	for _, p := range d.Payments {
		inv.Payments = append(inv.Payments, &molarv1.Payment{Id: p.ID, Method: paymentMethod(p.Method), Amount: p.Amount, Time: protoTime(p.At),
			ReceivedBy: p.ReceivedBy, Memo: p.Memo, Refunded: p.Refunded, Card: p.Card.card(), CashReceipt: p.CashReceipt.cashReceipt()})
	}
	for _, r := range d.Refunds {
		inv.Refunds = append(inv.Refunds, &molarv1.Refund{Id: r.ID, PaymentId: r.PaymentID, Amount: r.Amount, Reason: r.Reason, Time: protoTime(r.At), By: r.By})
	}
	return inv
}
