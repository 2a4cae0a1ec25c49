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
	names Names
}

var _ molarv1connect.AuditServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler reading from store, naming actors and
// targets through names.
func NewHandler(store Store, names Names) *Handler { return &Handler{store: store, names: names} }

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
	n := newNamer(h.names)
	for _, e := range events {
		ev := &molarv1.AuditEvent{
			Id: e.ID, Time: timestamppb.New(e.Time), Action: e.Action, ActorId: e.ActorID, ActorEmail: e.ActorEmail,
			Ip: e.IP, TargetType: e.TargetType, TargetId: e.TargetID, Detail: e.Detail, RequestId: e.RequestID,
		}
		ev.ActorName = n.staff(ctx, e.ActorID)
		switch e.TargetType {
		case "patient":
			ev.TargetName, ev.TargetChartNumber = n.patient(ctx, e.TargetID)
		case "staff":
			ev.TargetName = n.staff(ctx, e.TargetID)
		}
		out.Events = append(out.Events, ev)
	}
	return connect.NewResponse(out), nil
}

// namer looks each id up once per page.
type namer struct {
	names    Names
	staffs   map[string]string
	patients map[string]patientLabel
}

type patientLabel struct {
	name  string
	chart int64
}

func newNamer(n Names) *namer {
	return &namer{names: n, staffs: map[string]string{}, patients: map[string]patientLabel{}}
}

func (n *namer) staff(ctx context.Context, id string) string {
	if id == "" || n.names == nil {
		return ""
	}
	name, seen := n.staffs[id]
	if !seen {
		name, _ = n.names.StaffName(ctx, id)
		n.staffs[id] = name
	}
	return name
}

func (n *namer) patient(ctx context.Context, id string) (string, int64) {
	if id == "" || n.names == nil {
		return "", 0
	}
	l, seen := n.patients[id]
	if !seen {
		l.name, l.chart, _ = n.names.Patient(ctx, id)
		n.patients[id] = l
	}
	return l.name, l.chart
}
