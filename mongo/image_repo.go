package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/protobuf/encoding/protojson"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/images"
)

const (
	imageVersionsCollection   = "image_versions"
	imagesCollection          = "images"
	imageThumbnailsCollection = "image_thumbnails"
)

// ImageRepo keeps image records. Each version of an image is one insert
// into image_versions, keyed by image and version: the unique key lets one
// writer win on every engine, and the insert, carrying its audit event
// marked pending, is the commit. The images collection holds the newest
// version of each image and image_thumbnails where its thumbnails stand;
// both are derived, brought up to date right after the commit and again by
// recovery for a version still pending.
type ImageRepo struct {
	versions, images, thumbs *driver.Collection
}

var _ images.Store = (*ImageRepo)(nil)

// NewImageRepo returns an ImageRepo on db.
func NewImageRepo(db *DB) *ImageRepo {
	return &ImageRepo{versions: db.Database.Collection(imageVersionsCollection), images: db.Database.Collection(imagesCollection),
		thumbs: db.Database.Collection(imageThumbnailsCollection)}
}

// ImageIndexes are the indexes ImageRepo needs beyond _id.
func ImageIndexes() []Index {
	return []Index{
		pendingIndex(imageVersionsCollection),
		{Collection: imageVersionsCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "image_id", Value: 1}, {Key: "version", Value: -1}}}},
		{Collection: imagesCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "uploaded", Value: -1}}}},
		{Collection: imageThumbnailsCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "status", Value: 1}}}},
	}
}

var (
	imageJSON   = protojson.MarshalOptions{UseProtoNames: true}
	imageUnJSON = protojson.UnmarshalOptions{DiscardUnknown: true}
)

type imageVersionDoc struct {
	ID           string           `bson:"_id"`
	ImageID      string           `bson:"image_id"`
	PatientID    string           `bson:"patient_id"`
	Version      int64            `bson:"version"`
	Uploaded     time.Time        `bson:"uploaded"`
	Doc          string           `bson:"doc"`
	Audit        *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending bool             `bson:"audit_pending,omitempty"`
}

type imageDoc struct {
	ID        string    `bson:"_id"`
	PatientID string    `bson:"patient_id"`
	Version   int64     `bson:"version"`
	Uploaded  time.Time `bson:"uploaded"`
	Doc       string    `bson:"doc"`
}

type thumbDoc struct {
	ID     string    `bson:"_id"`
	Status int32     `bson:"status"`
	Error  string    `bson:"error,omitempty"`
	At     time.Time `bson:"at"`
}

func versionID(id string, version int64) string { return fmt.Sprintf("%s/%012d", id, version) }

// Save implements images.Store.
func (r *ImageRepo) Save(ctx context.Context, img *molarv1.Image, ev audit.Event) error {
	v, err := r.commit(ctx, img, ev)
	if err != nil {
		return err
	}
	// Committed: what follows is derived, and recovery redoes it while the
	// version is pending.
	_ = r.finish(ctx, v)
	return nil
}

// commit inserts the version with its pending event: the commit point of a
// save, and all of it that is not derived.
func (r *ImageRepo) commit(ctx context.Context, img *molarv1.Image, ev audit.Event) (imageVersionDoc, error) {
	doc, err := imageJSON.Marshal(images.Storable(img))
	if err != nil {
		return imageVersionDoc{}, err
	}
	if img.GetVersion() > 1 {
		// The version before must exist: a writer cannot skip one.
		n, err := r.versions.CountDocuments(ctx, bson.D{{Key: "_id", Value: versionID(img.GetId(), img.GetVersion()-1)}})
		if err != nil {
			return imageVersionDoc{}, storeError(err, "image")
		}
		if n == 0 {
			return imageVersionDoc{}, services.Errorf(services.AlreadyExists, "image %s is not at version %d", img.GetId(), img.GetVersion()-1)
		}
	}
	v := imageVersionDoc{ID: versionID(img.GetId(), img.GetVersion()), ImageID: img.GetId(), PatientID: img.GetPatientId(), Version: img.GetVersion(),
		Uploaded: ms(img.GetUploadTime().AsTime()), Doc: string(doc)}
	v.Audit, v.AuditPending = carriedAudit(ev)
	if _, err := r.versions.InsertOne(ctx, v); err != nil {
		return imageVersionDoc{}, storeError(err, "image")
	}
	return v, nil
}

// newestVersion reads the newest committed version of an image.
func (r *ImageRepo) newestVersion(ctx context.Context, id string) (imageVersionDoc, error) {
	var newest imageVersionDoc
	err := r.versions.FindOne(ctx, bson.D{{Key: "image_id", Value: id}}, options.FindOne().SetSort(bson.D{{Key: "version", Value: -1}})).Decode(&newest)
	return newest, storeError(err, "image")
}

// finish brings the derived documents of a committed version up to date:
// the image's newest version, and a thumbnail entry for a new image.
func (r *ImageRepo) finish(ctx context.Context, v imageVersionDoc) error {
	newest, err := r.newestVersion(ctx, v.ImageID)
	if err != nil {
		return err
	}
	// Only an older copy is replaced: a finish that read its newest version
	// before a later one was saved and finished must not put it back. With
	// a copy at this version or newer, nothing matches, the upsert's insert
	// meets the _id, and that duplicate is the answer "already newer".
	d := imageDoc{ID: newest.ImageID, PatientID: newest.PatientID, Version: newest.Version, Uploaded: newest.Uploaded, Doc: newest.Doc}
	older := bson.D{{Key: "_id", Value: d.ID}, {Key: "version", Value: bson.D{{Key: "$lt", Value: d.Version}}}}
	if _, err := r.images.ReplaceOne(ctx, older, d, options.Replace().SetUpsert(true)); err != nil && !driver.IsDuplicateKeyError(err) {
		return storeError(err, "image")
	}
	_, err = r.thumbs.InsertOne(ctx, thumbDoc{ID: v.ImageID, Status: int32(molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED), At: v.Uploaded})
	if err != nil && !driver.IsDuplicateKeyError(err) {
		return storeError(err, "image thumbnail")
	}
	return nil
}

// AuditProjected implements images.Store. The derived documents are
// brought up to date first, so that the mark stays on a version whose last
// step failed until recovery finishes it.
func (r *ImageRepo) AuditProjected(ctx context.Context, id string, version int64) error {
	var v imageVersionDoc
	if err := r.versions.FindOne(ctx, bson.D{{Key: "_id", Value: versionID(id, version)}}).Decode(&v); err != nil {
		return storeError(err, "image version")
	}
	if err := r.finish(ctx, v); err != nil {
		return err
	}
	return clearPending(ctx, r.versions, v.ID)
}

// ReprojectAudit implements images.Store: each pending version is finished,
// its event projected, and its mark cleared.
func (r *ImageRepo) ReprojectAudit(ctx context.Context, project func(audit.Event) error) error {
	return reprojectPending(ctx, r.versions, project, func(p pendingDoc) error {
		var v imageVersionDoc
		if err := bson.Unmarshal(p.Raw, &v); err != nil {
			return err
		}
		return r.finish(ctx, v)
	})
}

func (r *ImageRepo) decorate(ctx context.Context, docs []imageDoc) ([]*molarv1.Image, error) {
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	status := map[string]int32{}
	if len(ids) > 0 {
		cur, err := r.thumbs.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return nil, storeError(err, "image thumbnails")
		}
		var ts []thumbDoc
		if err := cur.All(ctx, &ts); err != nil {
			return nil, storeError(err, "image thumbnails")
		}
		for _, t := range ts {
			status[t.ID] = t.Status
		}
	}
	out := make([]*molarv1.Image, 0, len(docs))
	for _, d := range docs {
		img := &molarv1.Image{}
		if err := imageUnJSON.Unmarshal([]byte(d.Doc), img); err != nil {
			return nil, err
		}
		img.ThumbnailStatus = molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED
		if s, ok := status[d.ID]; ok {
			img.ThumbnailStatus = molarv1.ThumbnailStatus(s)
		}
		out = append(out, img)
	}
	return out, nil
}

// Get implements images.Store. It reads the newest committed version, not
// the derived copy in images: a version whose derived documents are not
// finished yet (the process stopped right after the commit) is still the
// image, so that a retry of its upload, told the version exists, finds it.
func (r *ImageRepo) Get(ctx context.Context, id string) (*molarv1.Image, error) {
	v, err := r.newestVersion(ctx, id)
	if err != nil {
		return nil, err
	}
	d := imageDoc{ID: v.ImageID, PatientID: v.PatientID, Version: v.Version, Uploaded: v.Uploaded, Doc: v.Doc}
	out, err := r.decorate(ctx, []imageDoc{d})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// List implements images.Store.
func (r *ImageRepo) List(ctx context.Context, patientID string) ([]*molarv1.Image, error) {
	cur, err := r.images.Find(ctx, bson.D{{Key: "patient_id", Value: patientID}}, options.Find().SetSort(bson.D{{Key: "uploaded", Value: -1}, {Key: "_id", Value: -1}}))
	if err != nil {
		return nil, storeError(err, "images")
	}
	var docs []imageDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeError(err, "images")
	}
	return r.decorate(ctx, docs)
}

// SetThumbnail implements images.Store.
func (r *ImageRepo) SetThumbnail(ctx context.Context, id string, t images.Thumbnail) error {
	d := thumbDoc{ID: id, Status: int32(t.Status), Error: t.Error, At: ms(t.UpdateTime)}
	_, err := r.thumbs.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, d, options.Replace().SetUpsert(true))
	return storeError(err, "image thumbnail")
}

// Unfinished implements images.Store.
func (r *ImageRepo) Unfinished(ctx context.Context) ([]string, error) {
	cur, err := r.thumbs.Find(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{
		int32(molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED), int32(molarv1.ThumbnailStatus_THUMBNAIL_STATUS_RUNNING)}}}}})
	if err != nil {
		return nil, storeError(err, "image thumbnails")
	}
	var ts []thumbDoc
	if err := cur.All(ctx, &ts); err != nil {
		return nil, storeError(err, "image thumbnails")
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out, nil
}
