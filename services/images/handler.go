package images

import (
	"context"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/jobs"
)

// Handler serves molar.v1.ImageService.
type Handler struct {
	svc  *Service
	jobs jobs.Store
}

var _ molarv1connect.ImageServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler over svc and the job queue.
func NewHandler(svc *Service, queue jobs.Store) *Handler { return &Handler{svc: svc, jobs: queue} }

// ListImages implements molarv1connect.ImageServiceHandler.
func (h *Handler) ListImages(ctx context.Context, req *connect.Request[molarv1.ListImagesRequest]) (*connect.Response[molarv1.ListImagesResponse], error) {
	m := req.Msg
	imgs, err := h.svc.List(ctx, m.GetPatientId(), m.GetKind(), m.GetTooth(), m.GetIncludeRemoved())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.ListImagesResponse{Images: imgs}), nil
}

// GetImage implements molarv1connect.ImageServiceHandler.
func (h *Handler) GetImage(ctx context.Context, req *connect.Request[molarv1.GetImageRequest]) (*connect.Response[molarv1.GetImageResponse], error) {
	img, links, err := h.svc.Get(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.GetImageResponse{Image: img, Links: links}), nil
}

// UpdateImage implements molarv1connect.ImageServiceHandler.
func (h *Handler) UpdateImage(ctx context.Context, req *connect.Request[molarv1.UpdateImageRequest]) (*connect.Response[molarv1.UpdateImageResponse], error) {
	img, err := h.svc.Update(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.UpdateImageResponse{Image: img}), nil
}

// RemoveImage implements molarv1connect.ImageServiceHandler.
func (h *Handler) RemoveImage(ctx context.Context, req *connect.Request[molarv1.RemoveImageRequest]) (*connect.Response[molarv1.RemoveImageResponse], error) {
	img, err := h.svc.Remove(ctx, req.Msg.GetId(), req.Msg.GetReason(), req.Msg.GetVersion())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.RemoveImageResponse{Image: img}), nil
}

// WatchImages implements molarv1connect.ImageServiceHandler.
func (h *Handler) WatchImages(ctx context.Context, req *connect.Request[molarv1.WatchImagesRequest], stream *connect.ServerStream[molarv1.WatchImagesResponse]) error {
	return h.svc.Watch(ctx, req.Msg.GetPatientId(), func(img *molarv1.Image) error {
		return stream.Send(&molarv1.WatchImagesResponse{Image: img})
	})
}

// ListJobs implements molarv1connect.ImageServiceHandler.
func (h *Handler) ListJobs(ctx context.Context, req *connect.Request[molarv1.ListJobsRequest]) (*connect.Response[molarv1.ListJobsResponse], error) {
	state := jobs.Dead
	if s := req.Msg.GetState(); s != molarv1.JobState_JOB_STATE_UNSPECIFIED {
		state = jobs.ParseState(strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_")))
	}
	list, err := h.jobs.List(ctx, state, 200)
	if err != nil {
		return nil, err
	}
	depth, err := h.jobs.Depth(ctx)
	if err != nil {
		return nil, err
	}
	out := &molarv1.ListJobsResponse{Depth: map[string]int32{}}
	for s, n := range depth {
		out.Depth[s.String()] = int32(n)
	}
	for _, j := range list {
		out.Jobs = append(out.Jobs, &molarv1.Job{Id: j.ID, Kind: j.Kind, SubjectId: string(j.Payload), State: jobStateProto(j.State),
			Attempts: int32(j.Attempts), LastError: j.LastError, RunTime: timestamppb.New(j.RunAt), UpdateTime: timestamppb.New(j.UpdateTime)})
	}
	return connect.NewResponse(out), nil
}

func jobStateProto(s jobs.State) molarv1.JobState {
	return molarv1.JobState(molarv1.JobState_value["JOB_STATE_"+strings.ToUpper(s.String())])
}

// RetryJob implements molarv1connect.ImageServiceHandler.
func (h *Handler) RetryJob(ctx context.Context, req *connect.Request[molarv1.RetryJobRequest]) (*connect.Response[molarv1.RetryJobResponse], error) {
	id := req.Msg.GetId()
	if err := h.jobs.Retry(ctx, id, h.svc.now()); err != nil {
		return nil, err
	}
	if err := h.svc.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_JOB_RETRIED, TargetType: "job", TargetID: id}); err != nil {
		return nil, err
	}
	if img, err := h.svc.store.Get(ctx, strings.TrimPrefix(id, JobKind+":")); err == nil && strings.HasPrefix(id, JobKind+":") {
		h.svc.setThumbnail(ctx, img, molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED, "")
	}
	if w, ok := h.svc.queue.(interface{ Wake() }); ok {
		w.Wake()
	}
	return connect.NewResponse(&molarv1.RetryJobResponse{}), nil
}
