package chart

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// Handler serves molar.v1.ChartService and molar.v1.CatalogService.
type Handler struct {
	svc *Service
}

var (
	_ molarv1connect.ChartServiceHandler   = (*Handler)(nil)
	_ molarv1connect.CatalogServiceHandler = (*Handler)(nil)
)

// NewHandler returns a Handler over svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// ListProcedures implements molarv1connect.CatalogServiceHandler.
func (h *Handler) ListProcedures(ctx context.Context, _ *connect.Request[molarv1.ListProceduresRequest]) (*connect.Response[molarv1.ListProceduresResponse], error) {
	procs, etag, err := h.svc.Procedures(ctx)
	if err != nil {
		return nil, err
	}
	res := connect.NewResponse(&molarv1.ListProceduresResponse{Procedures: procs})
	res.Header().Set("ETag", etag)
	res.Header().Set("Cache-Control", "private, no-cache")
	return res, nil
}

// SaveProcedure implements molarv1connect.CatalogServiceHandler.
func (h *Handler) SaveProcedure(ctx context.Context, req *connect.Request[molarv1.SaveProcedureRequest]) (*connect.Response[molarv1.SaveProcedureResponse], error) {
	if err := h.svc.SaveProcedure(ctx, req.Msg.GetProcedure()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.SaveProcedureResponse{Procedure: req.Msg.GetProcedure()}), nil
}

// GetChart implements molarv1connect.ChartServiceHandler.
func (h *Handler) GetChart(ctx context.Context, req *connect.Request[molarv1.GetChartRequest]) (*connect.Response[molarv1.GetChartResponse], error) {
	var asOf time.Time
	if req.Msg.AsOf != nil {
		asOf = req.Msg.AsOf.AsTime()
	}
	entries, n, events, err := h.svc.Chart(ctx, req.Msg.GetPatientId(), asOf)
	if err != nil {
		return nil, err
	}
	out := &molarv1.GetChartResponse{Revision: int64(n), Changes: ChangesProto(events)}
	for _, e := range entries {
		out.Entries = append(out.Entries, EntryProto(e))
	}
	for _, e := range events {
		out.ChangeTimes = append(out.ChangeTimes, timestamppb.New(e.At))
	}
	return connect.NewResponse(out), nil
}

// AddChartEntry implements molarv1connect.ChartServiceHandler.
func (h *Handler) AddChartEntry(ctx context.Context, req *connect.Request[molarv1.AddChartEntryRequest]) (*connect.Response[molarv1.AddChartEntryResponse], error) {
	m := req.Msg
	e, err := h.svc.AddEntry(ctx, m.GetPatientId(), AddEntryInput{Tooth: m.GetTooth(), Surfaces: m.GetSurfaces(), Condition: m.GetCondition(),
		ProcedureCode: m.GetProcedureCode(), Status: m.GetStatus()})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.AddChartEntryResponse{Entry: EntryProto(e)}), nil
}

// SetChartEntryStatus implements molarv1connect.ChartServiceHandler.
func (h *Handler) SetChartEntryStatus(ctx context.Context, req *connect.Request[molarv1.SetChartEntryStatusRequest]) (*connect.Response[molarv1.SetChartEntryStatusResponse], error) {
	e, err := h.svc.SetStatus(ctx, req.Msg.GetPatientId(), req.Msg.GetEntryId(), req.Msg.GetStatus())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.SetChartEntryStatusResponse{Entry: EntryProto(e)}), nil
}

// RemoveChartEntry implements molarv1connect.ChartServiceHandler.
func (h *Handler) RemoveChartEntry(ctx context.Context, req *connect.Request[molarv1.RemoveChartEntryRequest]) (*connect.Response[molarv1.RemoveChartEntryResponse], error) {
	if err := h.svc.RemoveEntry(ctx, req.Msg.GetPatientId(), req.Msg.GetEntryId(), req.Msg.GetReason()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.RemoveChartEntryResponse{}), nil
}

// ListNotes implements molarv1connect.ChartServiceHandler.
func (h *Handler) ListNotes(ctx context.Context, req *connect.Request[molarv1.ListNotesRequest]) (*connect.Response[molarv1.ListNotesResponse], error) {
	m := req.Msg
	notes, next, err := h.svc.Notes(ctx, m.GetPatientId(), m.GetTag(), m.GetIncludeRemoved(), m.GetPageToken(), int(m.GetPageSize()))
	if err != nil {
		return nil, err
	}
	out := &molarv1.ListNotesResponse{NextPageToken: next}
	for _, n := range notes {
		out.Notes = append(out.Notes, NoteProto(m.GetPatientId(), n))
	}
	return connect.NewResponse(out), nil
}

// AddNote implements molarv1connect.ChartServiceHandler.
func (h *Handler) AddNote(ctx context.Context, req *connect.Request[molarv1.AddNoteRequest]) (*connect.Response[molarv1.AddNoteResponse], error) {
	m := req.Msg
	n, err := h.svc.AddNote(ctx, m.GetPatientId(), m.GetTitle(), m.GetContent(), m.GetTags())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.AddNoteResponse{Note: NoteProto(m.GetPatientId(), n)}), nil
}

// AmendNote implements molarv1connect.ChartServiceHandler.
func (h *Handler) AmendNote(ctx context.Context, req *connect.Request[molarv1.AmendNoteRequest]) (*connect.Response[molarv1.AmendNoteResponse], error) {
	m := req.Msg
	n, err := h.svc.AmendNote(ctx, m.GetNoteId(), m.GetTitle(), m.GetContent(), m.GetTags(), m.GetVersion())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.AmendNoteResponse{Note: NoteProto("", n)}), nil
}

// RemoveNote implements molarv1connect.ChartServiceHandler.
func (h *Handler) RemoveNote(ctx context.Context, req *connect.Request[molarv1.RemoveNoteRequest]) (*connect.Response[molarv1.RemoveNoteResponse], error) {
	if err := h.svc.RemoveNote(ctx, req.Msg.GetNoteId(), req.Msg.GetReason()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.RemoveNoteResponse{}), nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// EntryProto converts an entry for the API.
func EntryProto(e Entry) *molarv1.ChartEntry {
	out := &molarv1.ChartEntry{
		Id: e.ID, Tooth: e.Tooth, Surfaces: e.Surfaces, ProcedureName: e.ProcedureName, Fee: e.Fee, Status: e.Status,
		CreatedBy: e.CreatedBy, CreateTime: ts(e.Created), UpdatedBy: e.UpdatedBy, UpdateTime: ts(e.Updated), CompleteTime: ts(e.Completed),
	}
	if e.ProcedureCode != "" {
		out.Kind = &molarv1.ChartEntry_ProcedureCode{ProcedureCode: e.ProcedureCode}
	} else {
		out.Kind = &molarv1.ChartEntry_Condition{Condition: e.Condition}
	}
	return out
}

// NoteProto converts a note for the API.
func NoteProto(patientID string, n Note) *molarv1.Note {
	out := &molarv1.Note{
		Id: n.ID, PatientId: patientID, Title: n.Title, Content: n.Content, Tags: n.Tags, AuthorId: n.AuthorID, AuthorName: n.AuthorName,
		CreateTime: ts(n.Created), Removed: n.Removed, RemovedReason: n.RemovedReason, Version: n.Version,
		UpdateTime: ts(n.Updated), UpdatedBy: n.UpdatedBy,
	}
	for _, r := range n.Revisions {
		out.Revisions = append(out.Revisions, &molarv1.NoteRevision{Title: r.Title, Content: r.Content, Tags: r.Tags, AuthorName: r.AuthorName, Time: ts(r.Time)})
	}
	return out
}

// ChangesProto describes each change to a chart, naming the entry it
// touched as it stood then.
func ChangesProto(events []Event) []*molarv1.ChartChange {
	entries := map[string]Entry{}
	out := make([]*molarv1.ChartChange, 0, len(events))
	for _, ev := range events {
		c := &molarv1.ChartChange{Time: timestamppb.New(ev.At), AuthorName: ev.ByName, EntryId: ev.EntryID}
		switch ev.Type {
		case EventAdd:
			entries[ev.Entry.ID] = ev.Entry
			c.Kind, c.EntryId, c.Status = molarv1.ChartChangeKind_CHART_CHANGE_KIND_ADDED, ev.Entry.ID, ev.Entry.Status
		case EventStatus:
			c.Kind, c.Status = molarv1.ChartChangeKind_CHART_CHANGE_KIND_STATUS, ev.Status
			if e, ok := entries[ev.EntryID]; ok {
				c.PreviousStatus = e.Status
				e.Status = ev.Status
				entries[ev.EntryID] = e
			}
		case EventRemove:
			c.Kind, c.Reason = molarv1.ChartChangeKind_CHART_CHANGE_KIND_REMOVED, ev.Reason
		}
		e := entries[c.GetEntryId()]
		c.Tooth, c.ProcedureCode, c.ProcedureName, c.Condition = e.Tooth, e.ProcedureCode, e.ProcedureName, e.Condition
		out = append(out, c)
	}
	return out
}
