package schedule

import (
	"context"
	"time"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// Handler serves molar.v1.ScheduleService.
type Handler struct {
	svc *Service
	// Heartbeat is how long a stream may stay silent.
	Heartbeat time.Duration
	// Buffer is how many events a stream may fall behind before it is told
	// to resync.
	Buffer int
}

var _ molarv1connect.ScheduleServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler over svc.
func NewHandler(svc *Service) *Handler {
	return &Handler{svc: svc, Heartbeat: 15 * time.Second, Buffer: 256}
}

// ListResources implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) ListResources(context.Context, *connect.Request[molarv1.ListResourcesRequest]) (*connect.Response[molarv1.ListResourcesResponse], error) {
	ps, cs, ts := h.svc.Resources()
	return connect.NewResponse(&molarv1.ListResourcesResponse{Providers: ps, Chairs: cs, Types: ts}), nil
}

// SaveProvider implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) SaveProvider(ctx context.Context, req *connect.Request[molarv1.SaveProviderRequest]) (*connect.Response[molarv1.SaveProviderResponse], error) {
	p, err := h.svc.SaveProvider(ctx, req.Msg.GetProvider())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.SaveProviderResponse{Provider: p}), nil
}

// SaveChair implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) SaveChair(ctx context.Context, req *connect.Request[molarv1.SaveChairRequest]) (*connect.Response[molarv1.SaveChairResponse], error) {
	c, err := h.svc.SaveChair(ctx, req.Msg.GetChair())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.SaveChairResponse{Chair: c}), nil
}

// SaveAppointmentType implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) SaveAppointmentType(ctx context.Context, req *connect.Request[molarv1.SaveAppointmentTypeRequest]) (*connect.Response[molarv1.SaveAppointmentTypeResponse], error) {
	t, err := h.svc.SaveType(ctx, req.Msg.GetType())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.SaveAppointmentTypeResponse{Type: t}), nil
}

func snapshotProto(s *Snapshot) *molarv1.ListScheduleResponse {
	return &molarv1.ListScheduleResponse{Appointments: s.Appointments, Blockouts: s.Blockouts, Revision: s.Revision}
}

// ListSchedule implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) ListSchedule(ctx context.Context, req *connect.Request[molarv1.ListScheduleRequest]) (*connect.Response[molarv1.ListScheduleResponse], error) {
	m := req.Msg
	s, err := h.svc.List(ctx, m.GetStartDate(), m.GetEndDate(), m.GetProviderIds(), m.GetChairIds())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(snapshotProto(s)), nil
}

// BookAppointment implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) BookAppointment(ctx context.Context, req *connect.Request[molarv1.BookAppointmentRequest]) (*connect.Response[molarv1.BookAppointmentResponse], error) {
	m := req.Msg
	a, err := h.svc.BookAppointment(ctx, BookInput{PatientID: m.GetPatientId(), ProviderID: m.GetProviderId(), ChairID: m.GetChairId(), TypeID: m.GetTypeId(),
		Start: m.GetStartTime().AsTime(), Minutes: m.GetMinutes(), PlannedEntryIDs: m.GetPlannedEntryIds(), Note: m.GetNote()})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.BookAppointmentResponse{Appointment: a}), nil
}

// MoveAppointment implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) MoveAppointment(ctx context.Context, req *connect.Request[molarv1.MoveAppointmentRequest]) (*connect.Response[molarv1.MoveAppointmentResponse], error) {
	m := req.Msg
	a, err := h.svc.Move(ctx, m.GetId(), m.GetProviderId(), m.GetChairId(), m.GetStartTime().AsTime(), m.GetMinutes(), m.GetVersion())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.MoveAppointmentResponse{Appointment: a}), nil
}

// SetAppointmentStatus implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) SetAppointmentStatus(ctx context.Context, req *connect.Request[molarv1.SetAppointmentStatusRequest]) (*connect.Response[molarv1.SetAppointmentStatusResponse], error) {
	m := req.Msg
	a, err := h.svc.SetStatus(ctx, m.GetId(), m.GetStatus(), m.GetReason(), m.GetVersion())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.SetAppointmentStatusResponse{Appointment: a}), nil
}

// CreateBlockout implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) CreateBlockout(ctx context.Context, req *connect.Request[molarv1.CreateBlockoutRequest]) (*connect.Response[molarv1.CreateBlockoutResponse], error) {
	m := req.Msg
	b, err := h.svc.CreateBlockout(ctx, m.GetProviderId(), m.GetChairId(), m.GetStartTime().AsTime(), m.GetMinutes(), m.GetReason())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.CreateBlockoutResponse{Blockout: b}), nil
}

// DeleteBlockout implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) DeleteBlockout(ctx context.Context, req *connect.Request[molarv1.DeleteBlockoutRequest]) (*connect.Response[molarv1.DeleteBlockoutResponse], error) {
	if err := h.svc.DeleteBlockout(ctx, req.Msg.GetId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.DeleteBlockoutResponse{}), nil
}

// ListPatientAppointments implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) ListPatientAppointments(ctx context.Context, req *connect.Request[molarv1.ListPatientAppointmentsRequest]) (*connect.Response[molarv1.ListPatientAppointmentsResponse], error) {
	up, past, err := h.svc.PatientAppointments(ctx, req.Msg.GetPatientId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.ListPatientAppointmentsResponse{Upcoming: up, Past: past}), nil
}

// FindFreeSlots implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) FindFreeSlots(ctx context.Context, req *connect.Request[molarv1.FindFreeSlotsRequest]) (*connect.Response[molarv1.FindFreeSlotsResponse], error) {
	m := req.Msg
	slots, err := h.svc.FreeSlots(ctx, m.GetProviderId(), m.GetMinutes(), m.GetStartDate(), m.GetEndDate(), int(m.GetLimit()), m.GetSpread())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.FindFreeSlotsResponse{Slots: slots}), nil
}

// WatchSchedule implements molarv1connect.ScheduleServiceHandler.
func (h *Handler) WatchSchedule(ctx context.Context, req *connect.Request[molarv1.WatchScheduleRequest], stream *connect.ServerStream[molarv1.WatchScheduleResponse]) error {
	m := req.Msg
	f, err := h.svc.WatchFilter(m.GetStartDate(), m.GetEndDate(), m.GetProviderIds(), m.GetChairIds())
	if err != nil {
		return err
	}
	book := h.svc.Book()
	since := m.GetSinceRevision()
	for {
		if err := h.svc.Ensure(ctx, f); err != nil {
			return err
		}
		w, replay, snap := book.Watch(f, since, h.Buffer)
		err := h.serve(ctx, stream, w, replay, snap, since)
		book.Unwatch(w)
		if err != errResync {
			return err
		}
		since = 0 // fell behind: start again from a snapshot
	}
}

var errResync = connect.NewError(connect.CodeAborted, nil)

func (h *Handler) serve(ctx context.Context, stream *connect.ServerStream[molarv1.WatchScheduleResponse], w *Watcher, replay []Event, snap *Snapshot, since int64) error {
	rev := since
	if snap != nil {
		rev = snap.Revision
		if err := stream.Send(&molarv1.WatchScheduleResponse{Event: &molarv1.WatchScheduleResponse_Snapshot{Snapshot: snapshotProto(snap)}, Revision: rev}); err != nil {
			return err
		}
	}
	send := func(e Event) error {
		if e.Revision <= rev {
			return nil
		}
		rev = e.Revision
		msg := &molarv1.WatchScheduleResponse{Revision: rev}
		if e.Appointment != nil {
			msg.Event = &molarv1.WatchScheduleResponse_Appointment{Appointment: e.Appointment}
		} else {
			msg.Event = &molarv1.WatchScheduleResponse_Blockout{Blockout: e.Blockout}
		}
		return stream.Send(msg)
	}
	for _, e := range replay {
		if err := send(e); err != nil {
			return err
		}
	}
	if snap == nil && len(replay) == 0 {
		// Say at once that the stream is live, so clients need not wait for
		// the first change to know.
		if err := stream.Send(&molarv1.WatchScheduleResponse{Event: &molarv1.WatchScheduleResponse_Heartbeat{Heartbeat: true}, Revision: rev}); err != nil {
			return err
		}
	}
	beat := time.NewTimer(h.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.Overflowed():
			return errResync
		case e := <-w.Events():
			if err := send(e); err != nil {
				return err
			}
			beat.Reset(h.Heartbeat)
		case <-beat.C:
			// The heartbeat carries the book's revision: events outside the
			// range advance it too, and a reconnect from there is cheaper.
			if err := stream.Send(&molarv1.WatchScheduleResponse{Event: &molarv1.WatchScheduleResponse_Heartbeat{Heartbeat: true}, Revision: rev}); err != nil {
				return err
			}
			beat.Reset(h.Heartbeat)
		}
	}
}
