package sqlite

import (
	"context"
	"database/sql"

	"google.golang.org/protobuf/encoding/protojson"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/images"
)

// ImageStore keeps image records: every version of an image whole in
// image_versions (its key, image and version, is the commit point), the
// newest one in images, and where its thumbnails stand in
// image_thumbnails. A save is one transaction with its audit record, so
// nothing is ever pending.
type ImageStore struct {
	db *DB
}

var _ images.Store = (*ImageStore)(nil)

// NewImageStore returns the image store of db.
func NewImageStore(db *DB) *ImageStore { return &ImageStore{db: db} }

var (
	imageJSON   = protojson.MarshalOptions{UseProtoNames: true}
	imageUnJSON = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// Save implements images.Store.
func (s *ImageStore) Save(ctx context.Context, img *molarv1.Image, ev audit.Event) error {
	doc, err := imageJSON.Marshal(images.Storable(img))
	if err != nil {
		return err
	}
	return s.db.write(ctx, func(tx *sql.Tx) error {
		var newest int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM image_versions WHERE image_id = ?`, img.GetId()).Scan(&newest); err != nil {
			return storeError(err, "image")
		}
		if newest != img.GetVersion()-1 {
			return services.Errorf(services.AlreadyExists, "image %s version %d exists", img.GetId(), img.GetVersion())
		}
		at := ev.Time.UnixMilli()
		if _, err := tx.ExecContext(ctx, `INSERT INTO image_versions (image_id, version, patient_id, at, doc, audit_id) VALUES (?, ?, ?, ?, ?, ?)`,
			img.GetId(), img.GetVersion(), img.GetPatientId(), at, string(doc), ev.ID); err != nil {
			return storeError(err, "image")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO images (id, patient_id, version, uploaded, doc) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET version = excluded.version, doc = excluded.doc`,
			img.GetId(), img.GetPatientId(), img.GetVersion(), img.GetUploadTime().AsTime().UnixMilli(), string(doc)); err != nil {
			return storeError(err, "image")
		}
		if img.GetVersion() == 1 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO image_thumbnails (image_id, status, error, at) VALUES (?, ?, '', ?)`,
				img.GetId(), int32(molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED), at); err != nil {
				return storeError(err, "image thumbnail")
			}
		}
		return appendAudit(ctx, tx, ev)
	})
}

// AuditProjected implements images.Store: a no-op, as the event went into
// the trail with the version.
func (s *ImageStore) AuditProjected(context.Context, string, int64) error { return nil }

// ReprojectAudit implements images.Store: a no-op, as no version is ever
// committed without its event.
func (s *ImageStore) ReprojectAudit(context.Context, func(audit.Event) error) error { return nil }

const imageSelect = `SELECT i.doc, COALESCE(t.status, 0) FROM images i LEFT JOIN image_thumbnails t ON t.image_id = i.id`

func scanImage(sc interface{ Scan(...any) error }) (*molarv1.Image, error) {
	var doc string
	var status int32
	if err := sc.Scan(&doc, &status); err != nil {
		return nil, err
	}
	img := &molarv1.Image{}
	if err := imageUnJSON.Unmarshal([]byte(doc), img); err != nil {
		return nil, err
	}
	img.ThumbnailStatus = molarv1.ThumbnailStatus(status)
	return img, nil
}

// Get implements images.Store.
func (s *ImageStore) Get(ctx context.Context, id string) (*molarv1.Image, error) {
	img, err := scanImage(s.db.sql.QueryRowContext(ctx, imageSelect+` WHERE i.id = ?`, id))
	return img, storeError(err, "image")
}

// List implements images.Store.
func (s *ImageStore) List(ctx context.Context, patientID string) ([]*molarv1.Image, error) {
	rows, err := s.db.sql.QueryContext(ctx, imageSelect+` WHERE i.patient_id = ? ORDER BY i.uploaded DESC, i.id DESC`, patientID)
	if err != nil {
		return nil, storeError(err, "images")
	}
	defer rows.Close()
	var out []*molarv1.Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, storeError(err, "images")
		}
		out = append(out, img)
	}
	return out, storeError(rows.Err(), "images")
}

// SetThumbnail implements images.Store.
func (s *ImageStore) SetThumbnail(ctx context.Context, id string, t images.Thumbnail) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO image_thumbnails (image_id, status, error, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (image_id) DO UPDATE SET status = excluded.status, error = excluded.error, at = excluded.at`,
			id, int32(t.Status), t.Error, t.UpdateTime.UnixMilli())
		return storeError(err, "image thumbnail")
	})
}

// Unfinished implements images.Store.
func (s *ImageStore) Unfinished(ctx context.Context) ([]string, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT image_id FROM image_thumbnails WHERE status IN (?, ?)`,
		int32(molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED), int32(molarv1.ThumbnailStatus_THUMBNAIL_STATUS_RUNNING))
	if err != nil {
		return nil, storeError(err, "image thumbnails")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, storeError(err, "image thumbnails")
		}
		out = append(out, id)
	}
	return out, storeError(rows.Err(), "image thumbnails")
}
