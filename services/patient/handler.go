package patient

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// Handler serves molar.v1.PatientService.
type Handler struct {
	svc *Service
}

var _ molarv1connect.PatientServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler over svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// SearchPatients implements molarv1connect.PatientServiceHandler.
func (h *Handler) SearchPatients(ctx context.Context, req *connect.Request[molarv1.SearchPatientsRequest]) (*connect.Response[molarv1.SearchPatientsResponse], error) {
	m := req.Msg
	list, next, err := h.svc.Search(ctx, m.GetQuery(), m.GetIncludeInactive(), m.GetPageToken(), int(m.GetPageSize()))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.SearchPatientsResponse{Patients: summaries(list), NextPageToken: next}), nil
}

// GetPatient implements molarv1connect.PatientServiceHandler.
func (h *Handler) GetPatient(ctx context.Context, req *connect.Request[molarv1.GetPatientRequest]) (*connect.Response[molarv1.GetPatientResponse], error) {
	r, err := h.svc.Get(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.GetPatientResponse{Patient: PatientProto(r)}), nil
}

// FindDuplicates implements molarv1connect.PatientServiceHandler.
func (h *Handler) FindDuplicates(_ context.Context, req *connect.Request[molarv1.FindDuplicatesRequest]) (*connect.Response[molarv1.FindDuplicatesResponse], error) {
	m := req.Msg
	return connect.NewResponse(&molarv1.FindDuplicatesResponse{Patients: summaries(h.svc.Duplicates(m.GetName(), m.GetBirthDate(), m.GetMobilePhone()))}), nil
}

// CreatePatient implements molarv1connect.PatientServiceHandler.
func (h *Handler) CreatePatient(ctx context.Context, req *connect.Request[molarv1.CreatePatientRequest]) (*connect.Response[molarv1.CreatePatientResponse], error) {
	r, err := h.svc.Create(ctx, req.Msg.GetDetails(), req.Msg.GetAllowDuplicate())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.CreatePatientResponse{Patient: PatientProto(r)}), nil
}

// UpdatePatient implements molarv1connect.PatientServiceHandler.
func (h *Handler) UpdatePatient(ctx context.Context, req *connect.Request[molarv1.UpdatePatientRequest]) (*connect.Response[molarv1.UpdatePatientResponse], error) {
	r, err := h.svc.Update(ctx, req.Msg.GetId(), req.Msg.GetDetails(), req.Msg.GetVersion())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.UpdatePatientResponse{Patient: PatientProto(r)}), nil
}

// SetPatientActive implements molarv1connect.PatientServiceHandler.
func (h *Handler) SetPatientActive(ctx context.Context, req *connect.Request[molarv1.SetPatientActiveRequest]) (*connect.Response[molarv1.SetPatientActiveResponse], error) {
	r, err := h.svc.SetActive(ctx, req.Msg.GetId(), req.Msg.GetActive(), req.Msg.GetReason())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.SetPatientActiveResponse{Patient: PatientProto(r)}), nil
}

// RevealRrn implements molarv1connect.PatientServiceHandler.
func (h *Handler) RevealRrn(ctx context.Context, req *connect.Request[molarv1.RevealRrnRequest]) (*connect.Response[molarv1.RevealRrnResponse], error) {
	rrn, err := h.svc.RevealRRN(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.RevealRrnResponse{Rrn: rrn}), nil
}

// PatientProto converts a record for the API; the registration number only
// ever leaves masked.
func PatientProto(r Record) *molarv1.Patient {
	d := proto.CloneOf(r.Details)
	d.Rrn = ""
	return &molarv1.Patient{
		Id: r.ID, ChartNumber: r.ChartNumber, Details: d, RrnMasked: r.RRNMasked, Active: r.Active,
		DeactivationReason: r.DeactivationReason, CreateTime: timestamppb.New(r.Created), UpdateTime: timestamppb.New(r.Updated), Version: r.Version,
	}
}

func summaries(list []Summary) []*molarv1.PatientSummary {
	out := make([]*molarv1.PatientSummary, len(list))
	for i, s := range list {
		out[i] = &molarv1.PatientSummary{Id: s.ID, ChartNumber: s.ChartNumber, Name: s.Name, Sex: s.Sex, BirthDate: s.BirthDate,
			PhoneTail: s.PhoneTail, Alerts: s.Alerts, Active: s.Active}
	}
	return out
}
