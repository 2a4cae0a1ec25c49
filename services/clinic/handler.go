package clinic

import (
	"context"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// Handler serves molar.v1.ClinicService.
type Handler struct {
	svc *Service
}

var _ molarv1connect.ClinicServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler over svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// GetClinic implements molarv1connect.ClinicServiceHandler.
func (h *Handler) GetClinic(ctx context.Context, _ *connect.Request[molarv1.GetClinicRequest]) (*connect.Response[molarv1.GetClinicResponse], error) {
	c, err := h.svc.Get(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.GetClinicResponse{Clinic: c}), nil
}

// UpdateClinic implements molarv1connect.ClinicServiceHandler.
func (h *Handler) UpdateClinic(ctx context.Context, req *connect.Request[molarv1.UpdateClinicRequest]) (*connect.Response[molarv1.UpdateClinicResponse], error) {
	c, err := h.svc.Update(ctx, req.Msg.GetClinic())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.UpdateClinicResponse{Clinic: c}), nil
}
