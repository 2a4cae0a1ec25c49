package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/jobs"
)

// MakeThumbnails is the background job of an image: it reads the original,
// makes the grid and preview renditions and stores them, then marks the
// thumbnail DONE. Each step can be redone: a retry overwrites renditions
// with the same bytes. A file of which no thumbnail can be made here is
// marked UNAVAILABLE and not retried; the last failed attempt marks it
// FAILED (the owner can retry the job).
func (s *Service) MakeThumbnails(ctx context.Context, j jobs.Job) error {
	id := string(j.Payload)
	img, err := s.store.Get(ctx, id)
	if err != nil {
		return err
	}
	s.setThumbnail(ctx, img, molarv1.ThumbnailStatus_THUMBNAIL_STATUS_RUNNING, "")
	err = s.renditions(ctx, img)
	switch {
	case err == nil:
		s.setThumbnail(ctx, img, molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE, "")
		return nil
	case errors.Is(err, ErrThumbnailUnavailable):
		s.setThumbnail(ctx, img, molarv1.ThumbnailStatus_THUMBNAIL_STATUS_UNAVAILABLE, err.Error())
		return nil
	case j.MaxAttempts > 0 && j.Attempts >= j.MaxAttempts:
		s.setThumbnail(ctx, img, molarv1.ThumbnailStatus_THUMBNAIL_STATUS_FAILED, err.Error())
	default:
		s.setThumbnail(ctx, img, molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED, err.Error())
	}
	return err
}

func (s *Service) renditions(ctx context.Context, img *molarv1.Image) error {
	r, blob, err := s.blobs.Open(ctx, originalKey(img.GetId()))
	if err != nil {
		return err
	}
	defer r.Close()
	ra, ok := r.(io.ReaderAt)
	if !ok {
		data, err := io.ReadAll(io.LimitReader(r, s.limits.MaxBytes+1))
		if err != nil {
			return err
		}
		ra = bytes.NewReader(data)
	}
	info, err := Inspect(ra, blob.Size, s.limits)
	if err != nil {
		return fmt.Errorf("the stored original is not readable: %w", err)
	}
	out, err := Thumbnails(ra, blob.Size, info, s.limits, []int{GridSize, PreviewSize})
	if err != nil {
		return err
	}
	for i, name := range []string{RenditionGrid, RenditionPreview} {
		if _, err := s.blobs.Put(ctx, renditionKey(img.GetId(), name), bytes.NewReader(out[i].Data)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) setThumbnail(ctx context.Context, img *molarv1.Image, status molarv1.ThumbnailStatus, msg string) {
	if err := s.store.SetThumbnail(ctx, img.GetId(), Thumbnail{Status: status, Error: msg, UpdateTime: s.now()}); err != nil {
		s.logger.Warn("thumbnail status not saved", "image_id", img.GetId(), "status", status.String(), "error", err.Error())
		return
	}
	s.announce(ctx, img.GetPatientId())
}
