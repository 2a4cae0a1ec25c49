package clinic

import (
	"context"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services/audit"
)

// Handler serves molar.v1.ClinicService.
type Handler struct {
	svc   *Service
	audit *audit.Recorder
}

var _ molarv1connect.ClinicServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler over svc that records changes with rec.
func NewHandler(svc *Service, rec *audit.Recorder) *Handler { return &Handler{svc: svc, audit: rec} }

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
	c, err := h.svc.UpdateRecorded(ctx, req.Msg.GetClinic(), h.audit)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.UpdateClinicResponse{Clinic: c}), nil
}
