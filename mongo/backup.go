package mongo

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/backup"
)

// A database copy in an archive is one file per collection, mongo/<name>.bson,
// of its documents one after another, as mongodump writes them.
const archiveDir = "mongo/"

// restoreMarkerCollection holds one document while a restore runs; a server
// refuses to start on a database that has it.
const restoreMarkerCollection = "restore_unfinished"

// BackupSource takes backups of a database.
type BackupSource struct {
	db *DB
}

var _ backup.Source = (*BackupSource)(nil)

// NewBackupSource returns the backup source of db.
func NewBackupSource(db *DB) *BackupSource { return &BackupSource{db: db} }

// Snapshot implements backup.Source: every collection's documents, read in
// one snapshot session (all reads at one cluster time) on a replica set or
// a sharded cluster. A standalone server and FerretDB have no snapshot
// reads: there each collection is read as it is when its turn comes, so a
// change committed during the copy may be in some collections and not in
// others. The manifest says which was done.
func (s *BackupSource) Snapshot(ctx context.Context, dir string) (backup.Snapshot, error) {
	snapshot, err := s.snapshotReads(ctx)
	if err != nil {
		return nil, err
	}
	// Collections are listed outside the session: listCollections takes no
	// snapshot read concern. One created during the copy is not in it.
	names, err := s.db.Database.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, storeError(err, "collections")
	}
	slices.Sort(names)
	consistency := "one MongoDB snapshot session: every collection as of one cluster time"
	if snapshot {
		sess, err := s.db.Client.StartSession(options.Session().SetSnapshot(true))
		if err != nil {
			return nil, storeError(err, "snapshot session")
		}
		defer sess.EndSession(context.WithoutCancel(ctx))
		ctx = driver.NewSessionContext(ctx, sess)
	} else {
		consistency = "collection by collection (this server has no snapshot reads): a change made during the copy may be in part of it; take it while nobody works"
	}
	out := &mongoSnapshot{dir: dir, consistency: consistency}
	for _, name := range names {
		if strings.HasPrefix(name, "system.") || name == restoreMarkerCollection {
			continue
		}
		f, err := dumpCollection(ctx, s.db.Database.Collection(name), dir)
		if err != nil {
			return nil, err
		}
		out.files = append(out.files, f)
	}
	return out, nil
}

// snapshotReads tells whether the deployment serves snapshot reads: a
// replica set member or a mongos, and not FerretDB.
func (s *BackupSource) snapshotReads(ctx context.Context) (bool, error) {
	if s.db.FerretDB {
		return false, nil
	}
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	if err := s.db.Client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return false, storeError(err, "hello")
	}
	return hello.SetName != "" || hello.Msg == "isdbgrid", nil
}

// dumpCollection writes every document of coll to dir/mongo/<name>.bson.
func dumpCollection(ctx context.Context, coll *driver.Collection, dir string) (backup.SnapshotFile, error) {
	name := archiveDir + coll.Name() + ".bson"
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return backup.SnapshotFile{}, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return backup.SnapshotFile{}, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return backup.SnapshotFile{}, storeError(err, coll.Name())
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		if _, err := w.Write(cur.Current); err != nil {
			return backup.SnapshotFile{}, err
		}
	}
	if err := cur.Err(); err != nil {
		return backup.SnapshotFile{}, storeError(err, coll.Name())
	}
	if err := w.Flush(); err != nil {
		return backup.SnapshotFile{}, err
	}
	return backup.SnapshotFile{Name: name, Path: p}, f.Close()
}

// OpenCopy opens the database copy among the files of an archive written
// out in dir, to read its image records.
func OpenCopy(dir string) (backup.Snapshot, error) {
	entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(archiveDir)))
	if err != nil {
		return nil, err
	}
	out := &mongoSnapshot{dir: dir}
	for _, e := range entries {
		out.files = append(out.files, backup.SnapshotFile{Name: archiveDir + e.Name(), Path: filepath.Join(dir, filepath.FromSlash(archiveDir), e.Name())})
	}
	return out, nil
}

// mongoSnapshot is a copy of a database in one file per collection.
type mongoSnapshot struct {
	dir         string
	consistency string
	files       []backup.SnapshotFile
}

func (s *mongoSnapshot) Engine() string               { return "mongodb" }
func (s *mongoSnapshot) Consistency() string          { return s.consistency }
func (s *mongoSnapshot) Files() []backup.SnapshotFile { return s.files }

// Images implements backup.Snapshot from the copy's image_versions (the
// commit point of every version: the newest of each image) and
// image_thumbnails.
func (s *mongoSnapshot) Images(ctx context.Context, fn func(*molarv1.Image) error) error {
	path := func(coll string) string {
		return filepath.Join(s.dir, filepath.FromSlash(archiveDir), coll+".bson")
	}
	status := map[string]int32{}
	if err := readDump(path(imageThumbnailsCollection), func(raw bson.Raw) error {
		var t thumbDoc
		if err := bson.Unmarshal(raw, &t); err != nil {
			return err
		}
		status[t.ID] = t.Status
		return nil
	}); err != nil {
		return err
	}
	newest := map[string]int64{}
	if err := readDump(path(imageVersionsCollection), func(raw bson.Raw) error {
		var v imageVersionDoc
		if err := bson.Unmarshal(raw, &v); err != nil {
			return err
		}
		newest[v.ImageID] = max(newest[v.ImageID], v.Version)
		return nil
	}); err != nil {
		return err
	}
	return readDump(path(imageVersionsCollection), func(raw bson.Raw) error {
		var v imageVersionDoc
		if err := bson.Unmarshal(raw, &v); err != nil {
			return err
		}
		if v.Version != newest[v.ImageID] {
			return nil
		}
		return imageOf(v, status, fn)
	})
}

// imageOf calls fn with the image of version document v.
func imageOf(v imageVersionDoc, status map[string]int32, fn func(*molarv1.Image) error) error {
	img := &molarv1.Image{}
	if err := imageUnJSON.Unmarshal([]byte(v.Doc), img); err != nil {
		return err
	}
	img.ThumbnailStatus = molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED
	if st, ok := status[v.ImageID]; ok {
		img.ThumbnailStatus = molarv1.ThumbnailStatus(st)
	}
	return fn(img)
}

// readDump calls fn with each document of a collection's file; a missing
// file is a collection that did not exist.
func readDump(p string, fn func(bson.Raw) error) error {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return eachDoc(bufio.NewReaderSize(f, 1<<20), fn)
}

// eachDoc reads BSON documents one after another from r.
func eachDoc(r io.Reader, fn func(bson.Raw) error) error {
	var size [4]byte
	for {
		if _, err := io.ReadFull(r, size[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("%w: a document is cut short: %v", backup.ErrDamaged, err)
		}
		n := binary.LittleEndian.Uint32(size[:])
		if n < 5 || n > 48<<20 {
			return fmt.Errorf("%w: a document of %d bytes", backup.ErrDamaged, n)
		}
		doc := make([]byte, n)
		copy(doc, size[:])
		if _, err := io.ReadFull(r, doc[4:]); err != nil {
			return fmt.Errorf("%w: a document is cut short: %v", backup.ErrDamaged, err)
		}
		if err := bson.Raw(doc).Validate(); err != nil {
			return fmt.Errorf("%w: %v", backup.ErrDamaged, err)
		}
		if err := fn(doc); err != nil {
			return err
		}
	}
}

// RestoreUnfinished reports whether a restore into db began and did not
// finish.
func RestoreUnfinished(ctx context.Context, db *DB) (bool, error) {
	n, err := db.Database.Collection(restoreMarkerCollection).CountDocuments(ctx, bson.D{})
	return n > 0, storeError(err, "restore mark")
}

// RestoreTarget restores an archive into an empty database.
type RestoreTarget struct {
	db *DB
}

var _ backup.Target = (*RestoreTarget)(nil)

// NewRestoreTarget returns the target of a restore into db.
func NewRestoreTarget(db *DB) *RestoreTarget { return &RestoreTarget{db: db} }

// Engine implements backup.Target.
func (t *RestoreTarget) Engine() string { return "mongodb" }

// Empty returns nil if no collection of the database holds a document
// (a server that started once made its indexes: that is still empty), and
// FailedPrecondition naming one that does otherwise.
func (t *RestoreTarget) Empty(ctx context.Context) error {
	names, err := t.db.Database.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return storeError(err, "collections")
	}
	slices.Sort(names)
	for _, name := range names {
		if strings.HasPrefix(name, "system.") {
			continue
		}
		n, err := t.db.Database.Collection(name).CountDocuments(ctx, bson.D{}, options.Count().SetLimit(1))
		if err != nil {
			return storeError(err, name)
		}
		if n > 0 && name == restoreMarkerCollection {
			return services.Errorf(services.FailedPrecondition, "database %s holds a restore that did not finish: drop it, then restore again", t.db.Database.Name())
		}
		if n > 0 {
			return services.Errorf(services.FailedPrecondition,
				"database %s is not empty (%s has documents): a restore goes into an empty database only; set MOLAR_DATABASE to a new name", t.db.Database.Name(), name)
		}
	}
	return nil
}

// Begin implements backup.Target: the database must be empty; the mark is
// inserted before anything else.
func (t *RestoreTarget) Begin(ctx context.Context) error {
	if err := t.Empty(ctx); err != nil {
		return err
	}
	_, err := t.db.Database.Collection(restoreMarkerCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: "restore"}, {Key: "at", Value: time.Now()}})
	return storeError(err, "restore mark")
}

// Write implements backup.Target: one collection's documents, inserted in
// batches of up to 1,000 or 8 MiB.
func (t *RestoreTarget) Write(ctx context.Context, name string, r io.Reader) error {
	coll, ok := strings.CutSuffix(strings.TrimPrefix(name, archiveDir), ".bson")
	if !strings.HasPrefix(name, archiveDir) || !ok || coll == "" || strings.ContainsAny(coll, "/$\x00") || coll == restoreMarkerCollection {
		return fmt.Errorf("%w: unexpected file %q in a backup of the mongodb engine", backup.ErrDamaged, name)
	}
	c := t.db.Database.Collection(coll)
	var batch []any
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := c.InsertMany(ctx, batch)
		batch, size = batch[:0], 0
		return storeError(err, coll)
	}
	err := eachDoc(bufio.NewReaderSize(r, 1<<20), func(doc bson.Raw) error {
		batch, size = append(batch, doc), size+len(doc)
		if len(batch) >= 1000 || size >= 8<<20 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// Images implements backup.Target from the restored image_versions and
// image_thumbnails.
func (t *RestoreTarget) Images(ctx context.Context, fn func(*molarv1.Image) error) error {
	status := map[string]int32{}
	cur, err := t.db.Database.Collection(imageThumbnailsCollection).Find(ctx, bson.D{})
	if err != nil {
		return storeError(err, "image thumbnails")
	}
	var thumbs []thumbDoc
	if err := cur.All(ctx, &thumbs); err != nil {
		return storeError(err, "image thumbnails")
	}
	for _, th := range thumbs {
		status[th.ID] = th.Status
	}
	cur, err = t.db.Database.Collection(imageVersionsCollection).Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "image_id", Value: 1}, {Key: "version", Value: -1}}))
	if err != nil {
		return storeError(err, "image versions")
	}
	defer cur.Close(context.WithoutCancel(ctx))
	last := ""
	for cur.Next(ctx) {
		var v imageVersionDoc
		if err := cur.Decode(&v); err != nil {
			return err
		}
		if v.ImageID == last {
			continue
		}
		last = v.ImageID
		if err := imageOf(v, status, fn); err != nil {
			return err
		}
	}
	return storeError(cur.Err(), "image versions")
}

// Commit implements backup.Target: the mark is dropped.
func (t *RestoreTarget) Commit(ctx context.Context) error {
	return storeError(t.db.Database.Collection(restoreMarkerCollection).Drop(ctx), "restore mark")
}

// Abort implements backup.Target: the database was empty, so all of it
// came from the restore.
func (t *RestoreTarget) Abort(ctx context.Context) error {
	return storeError(t.db.Database.Drop(ctx), "database")
}
