package auth

import (
	"context"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// StaffHandler serves molar.v1.StaffService.
type StaffHandler struct {
	svc *Service
}

var _ molarv1connect.StaffServiceHandler = (*StaffHandler)(nil)

// NewStaffHandler returns a StaffHandler over svc.
func NewStaffHandler(svc *Service) *StaffHandler { return &StaffHandler{svc: svc} }

// ListStaff implements molarv1connect.StaffServiceHandler.
func (h *StaffHandler) ListStaff(ctx context.Context, _ *connect.Request[molarv1.ListStaffRequest]) (*connect.Response[molarv1.ListStaffResponse], error) {
	all, err := h.svc.ListAccounts(ctx)
	if err != nil {
		return nil, err
	}
	out := &molarv1.ListStaffResponse{}
	for _, a := range all {
		out.Staff = append(out.Staff, StaffProto(a))
	}
	return connect.NewResponse(out), nil
}

// CreateStaff implements molarv1connect.StaffServiceHandler.
func (h *StaffHandler) CreateStaff(ctx context.Context, req *connect.Request[molarv1.CreateStaffRequest]) (*connect.Response[molarv1.CreateStaffResponse], error) {
	m := req.Msg
	a, err := h.svc.CreateAccount(ctx, m.GetEmail(), m.GetDisplayName(), m.GetRoles(), m.GetTemporaryPassword(), true)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.CreateStaffResponse{Staff: StaffProto(a)}), nil
}

// UpdateStaff implements molarv1connect.StaffServiceHandler.
func (h *StaffHandler) UpdateStaff(ctx context.Context, req *connect.Request[molarv1.UpdateStaffRequest]) (*connect.Response[molarv1.UpdateStaffResponse], error) {
	m := req.Msg
	a, err := h.svc.UpdateAccount(ctx, m.GetId(), m.GetDisplayName(), m.GetRoles(), m.GetVersion())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.UpdateStaffResponse{Staff: StaffProto(a)}), nil
}

// SetStaffDisabled implements molarv1connect.StaffServiceHandler.
func (h *StaffHandler) SetStaffDisabled(ctx context.Context, req *connect.Request[molarv1.SetStaffDisabledRequest]) (*connect.Response[molarv1.SetStaffDisabledResponse], error) {
	a, err := h.svc.SetDisabled(ctx, req.Msg.GetId(), req.Msg.GetDisabled())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.SetStaffDisabledResponse{Staff: StaffProto(a)}), nil
}

// ResetStaffPassword implements molarv1connect.StaffServiceHandler.
func (h *StaffHandler) ResetStaffPassword(ctx context.Context, req *connect.Request[molarv1.ResetStaffPasswordRequest]) (*connect.Response[molarv1.ResetStaffPasswordResponse], error) {
	a, err := h.svc.ResetPassword(ctx, req.Msg.GetId(), req.Msg.GetTemporaryPassword())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.ResetStaffPasswordResponse{Staff: StaffProto(a)}), nil
}
