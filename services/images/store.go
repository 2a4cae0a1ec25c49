package images

import (
	"context"
	"io"
	"time"

	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/jobs"
)

// Blob is what was stored for a key: its length and SHA-256, hex.
type Blob struct {
	Size   int64
	SHA256 string
}

// Blobs keeps the bytes of images and their thumbnails, by key. Keys are
// made by this package (lower-case letters, digits, '-', '_', '.' and '/'
// between parts) and never come from a user.
type Blobs interface {
	// Put stores everything r yields under key, replacing what was there
	// only once all of it is durably written: a failure or a crash part way
	// leaves the key as it was.
	Put(ctx context.Context, key string, r io.Reader) (Blob, error)
	// Open reads a blob; a missing key is services.NotFound.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, Blob, error)
	// Delete removes a blob; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Thumbnail is where an image's derived renditions stand. It is derived
// data: the background job writes it, and it can be made again from the
// original at any time.
type Thumbnail struct {
	Status molarv1.ThumbnailStatus
	// Error says why it failed or is unavailable.
	Error string
	// UpdateTime is when the status last changed.
	UpdateTime time.Time
}

// Store keeps image records: each change of an image is a new version,
// stored whole.
type Store interface {
	// Save stores img as version img.Version of image img.Id (1 for a new
	// image, whose thumbnail starts QUEUED). Atomic: AlreadyExists if that
	// version exists (someone saved first), and then nothing changed. The
	// change carries ev, marked pending until AuditProjected.
	Save(ctx context.Context, img *molarv1.Image, ev audit.Event) error
	// AuditProjected clears the pending mark of the version's event once it
	// is in the trail.
	AuditProjected(ctx context.Context, id string, version int64) error
	// ReprojectAudit projects the events of versions still pending (the
	// process stopped between commit and projection).
	ReprojectAudit(ctx context.Context, project func(audit.Event) error) error
	// Get returns the newest version of an image with its thumbnail status;
	// NotFound if there is none.
	Get(ctx context.Context, id string) (*molarv1.Image, error)
	// List returns the newest version of each of a patient's images, with
	// their thumbnail status, newest upload first.
	List(ctx context.Context, patientID string) ([]*molarv1.Image, error)
	// SetThumbnail records where an image's thumbnails stand.
	SetThumbnail(ctx context.Context, id string, t Thumbnail) error
	// Unfinished lists the ids of images whose thumbnails are QUEUED or
	// RUNNING, for the sweep that makes sure each has its job.
	Unfinished(ctx context.Context) ([]string, error)
}

// Storable is what a store keeps of img: the image without what is derived
// when it is read (its thumbnail status, its links).
func Storable(img *molarv1.Image) *molarv1.Image {
	out := proto.CloneOf(img)
	out.GridUrl = ""
	out.ThumbnailStatus = molarv1.ThumbnailStatus_THUMBNAIL_STATUS_UNSPECIFIED
	return out
}

// Enqueuer puts background jobs in the durable queue; enqueueing a job
// that exists already leaves it as it is.
type Enqueuer interface {
	Enqueue(ctx context.Context, j jobs.Job) error
}

// Patients tells whether a patient exists.
type Patients interface {
	// Exists returns NotFound for an unknown patient.
	Exists(ctx context.Context, id string) error
}

// Changes announces changes to every server process.
type Changes interface {
	// Publish records that the thing of kind and key is now at rev.
	Publish(ctx context.Context, kind, key string, rev int64) error
}

// ChangeKind is the kind of change this package publishes, keyed by
// patient id.
const ChangeKind = "images"
