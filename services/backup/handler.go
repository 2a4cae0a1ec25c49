package backup

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// Handler serves molar.v1.BackupService.
type Handler struct {
	svc *Service
}

var _ molarv1connect.BackupServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler over svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// GetBackupStatus implements molarv1connect.BackupServiceHandler.
func (h *Handler) GetBackupStatus(ctx context.Context, _ *connect.Request[molarv1.GetBackupStatusRequest]) (*connect.Response[molarv1.GetBackupStatusResponse], error) {
	out, err := h.svc.Status(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

func runProto(r Run) *molarv1.BackupRun {
	return &molarv1.BackupRun{Id: r.ID, Trigger: r.Trigger, StartTime: timestamp(r.Start), EndTime: timestamp(r.End), File: r.File,
		SizeBytes: r.Size, Images: int32(r.Images), Failure: r.Failure, Error: r.Error, Engine: r.Engine}
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func durationOf(d time.Duration) *durationpb.Duration { return durationpb.New(d) }
