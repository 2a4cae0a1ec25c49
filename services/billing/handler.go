package billing

import (
	"context"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// Handler serves molar.v1.BillingService.
type Handler struct {
	svc *Service
}

var _ molarv1connect.BillingServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler over svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// CreateInvoice implements molarv1connect.BillingServiceHandler.
func (h *Handler) CreateInvoice(ctx context.Context, req *connect.Request[molarv1.CreateInvoiceRequest]) (*connect.Response[molarv1.CreateInvoiceResponse], error) {
	inv, err := h.svc.Create(ctx, req.Msg.GetPatientId(), req.Msg.GetAppointmentId(), req.Msg.GetEntryIds())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.CreateInvoiceResponse{Invoice: inv}), nil
}

// GetInvoice implements molarv1connect.BillingServiceHandler.
func (h *Handler) GetInvoice(ctx context.Context, req *connect.Request[molarv1.GetInvoiceRequest]) (*connect.Response[molarv1.GetInvoiceResponse], error) {
	inv, err := h.svc.Get(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.GetInvoiceResponse{Invoice: inv}), nil
}

// IssueInvoice implements molarv1connect.BillingServiceHandler.
func (h *Handler) IssueInvoice(ctx context.Context, req *connect.Request[molarv1.IssueInvoiceRequest]) (*connect.Response[molarv1.IssueInvoiceResponse], error) {
	inv, err := h.svc.Issue(ctx, req.Msg.GetId(), req.Msg.GetVersion())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.IssueInvoiceResponse{Invoice: inv}), nil
}

// AddAdjustment implements molarv1connect.BillingServiceHandler.
func (h *Handler) AddAdjustment(ctx context.Context, req *connect.Request[molarv1.AddAdjustmentRequest]) (*connect.Response[molarv1.AddAdjustmentResponse], error) {
	m := req.Msg
	inv, err := h.svc.Adjust(ctx, m.GetId(), m.GetAmount(), m.GetReason(), m.GetVersion())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.AddAdjustmentResponse{Invoice: inv}), nil
}

// VoidInvoice implements molarv1connect.BillingServiceHandler.
func (h *Handler) VoidInvoice(ctx context.Context, req *connect.Request[molarv1.VoidInvoiceRequest]) (*connect.Response[molarv1.VoidInvoiceResponse], error) {
	inv, err := h.svc.Void(ctx, req.Msg.GetId(), req.Msg.GetReason(), req.Msg.GetVersion())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.VoidInvoiceResponse{Invoice: inv}), nil
}

// RecordPayment implements molarv1connect.BillingServiceHandler.
func (h *Handler) RecordPayment(ctx context.Context, req *connect.Request[molarv1.RecordPaymentRequest]) (*connect.Response[molarv1.RecordPaymentResponse], error) {
	m := req.Msg
	parts := make([]Part, len(m.GetParts()))
	for i, p := range m.GetParts() {
		parts[i] = Part{Method: p.GetMethod(), Amount: p.GetAmount(), Card: p.GetCard(), CashReceipt: p.GetCashReceipt()}
	}
	inv, err := h.svc.Pay(ctx, m.GetInvoiceId(), m.GetIdempotencyKey(), parts, m.GetMemo(), m.GetAllowOverpayment())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.RecordPaymentResponse{Invoice: inv}), nil
}

// RefundPayment implements molarv1connect.BillingServiceHandler.
func (h *Handler) RefundPayment(ctx context.Context, req *connect.Request[molarv1.RefundPaymentRequest]) (*connect.Response[molarv1.RefundPaymentResponse], error) {
	m := req.Msg
	inv, err := h.svc.Refund(ctx, m.GetInvoiceId(), m.GetPaymentId(), m.GetAmount(), m.GetReason(), m.GetIdempotencyKey())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.RefundPaymentResponse{Invoice: inv}), nil
}

// GetLedger implements molarv1connect.BillingServiceHandler.
func (h *Handler) GetLedger(ctx context.Context, req *connect.Request[molarv1.GetLedgerRequest]) (*connect.Response[molarv1.GetLedgerResponse], error) {
	es, bal, invs, err := h.svc.Ledger(ctx, req.Msg.GetPatientId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.GetLedgerResponse{Entries: es, Balance: bal, Invoices: invs}), nil
}

// GetDailyClosing implements molarv1connect.BillingServiceHandler.
func (h *Handler) GetDailyClosing(ctx context.Context, req *connect.Request[molarv1.GetDailyClosingRequest]) (*connect.Response[molarv1.GetDailyClosingResponse], error) {
	out, err := h.svc.Closing(ctx, req.Msg.GetStartDate(), req.Msg.GetEndDate())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

// ListOutstanding implements molarv1connect.BillingServiceHandler.
func (h *Handler) ListOutstanding(ctx context.Context, req *connect.Request[molarv1.ListOutstandingRequest]) (*connect.Response[molarv1.ListOutstandingResponse], error) {
	debtors, err := h.svc.Outstanding(ctx, req.Msg.GetOrderBy())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.ListOutstandingResponse{Debtors: debtors}), nil
}
