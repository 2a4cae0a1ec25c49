package audit

import (
	"context"
	"slices"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// Handler serves molar.v1.AuditService.
type Handler struct {
	store Store
}

var _ molarv1connect.AuditServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler reading from store.
func NewHandler(store Store) *Handler { return &Handler{store: store} }

// ListAuditEvents implements molarv1connect.AuditServiceHandler.
func (h *Handler) ListAuditEvents(ctx context.Context, req *connect.Request[molarv1.ListAuditEventsRequest]) (*connect.Response[molarv1.ListAuditEventsResponse], error) {
	m := req.Msg
	f := Filter{ActorID: m.GetActorId(), TargetID: m.GetTargetId(), Actions: slices.Clone(m.GetActions())}
	if m.StartTime != nil {
		f.Start = m.StartTime.AsTime()
	}
	if m.EndTime != nil {
		f.End = m.EndTime.AsTime()
	}
	size := int(m.GetPageSize())
	if size == 0 {
		size = 50
	}
	events, next, err := h.store.List(ctx, f, m.GetPageToken(), size)
	if err != nil {
		return nil, err
	}
	out := &molarv1.ListAuditEventsResponse{NextPageToken: next}
	for _, e := range events {
		out.Events = append(out.Events, &molarv1.AuditEvent{
			Id: e.ID, Time: timestamppb.New(e.Time), Action: e.Action, ActorId: e.ActorID, ActorEmail: e.ActorEmail,
			Ip: e.IP, TargetType: e.TargetType, TargetId: e.TargetID, Detail: e.Detail, RequestId: e.RequestID,
		})
	}
	return connect.NewResponse(out), nil
}
