package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/blob"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/backup"
)

// BackupConfig is the server's backup schedule, from MOLAR_BACKUP_*.
type BackupConfig struct {
	// Dir is where scheduled archives go; empty: no schedule, and the
	// other fields are zero.
	Dir   string
	Every time.Duration
	Keep  int
	// Recipients are the age public keys archives are encrypted to, as
	// written; `molar backup` uses them too.
	Recipients []string
}

// loadBackupConfig reads and checks MOLAR_BACKUP_*. The recipients are
// read (and checked) even without a directory: `molar backup` uses them.
func loadBackupConfig(get func(name, def string) string) (BackupConfig, error) {
	var c BackupConfig
	every, err := time.ParseDuration(get("MOLAR_BACKUP_EVERY", "24h"))
	if err != nil || every < 5*time.Minute || every > 744*time.Hour || every%time.Second != 0 {
		return c, fmt.Errorf("MOLAR_BACKUP_EVERY: must be a duration from 5m to 744h in whole seconds, like 24h or 6h")
	}
	keep, err := strconv.Atoi(get("MOLAR_BACKUP_KEEP", "14"))
	if err != nil || keep < 1 || keep > 10000 {
		return c, fmt.Errorf("MOLAR_BACKUP_KEEP: must be a number of archives from 1 to 10000")
	}
	if v := get("MOLAR_BACKUP_RECIPIENT", ""); v != "" {
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				c.Recipients = append(c.Recipients, r)
			}
		}
		if _, err := parseRecipients(c.Recipients); err != nil {
			return c, fmt.Errorf("MOLAR_BACKUP_RECIPIENT: %v", err)
		}
	}
	if c.Dir = get("MOLAR_BACKUP_DIR", ""); c.Dir == "" {
		return BackupConfig{Recipients: c.Recipients}, nil
	}
	if len(c.Recipients) == 0 {
		return c, fmt.Errorf("MOLAR_BACKUP_RECIPIENT: required with MOLAR_BACKUP_DIR: the age public key (age1...) backups are encrypted to; `molar keygen --backup FILE` makes one")
	}
	c.Every, c.Keep = every, keep
	return c, nil
}

// parseRecipients reads age public keys. A secret key is refused with a
// message saying so: the server must never hold it.
func parseRecipients(specs []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, s := range specs {
		if strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-") {
			return nil, errors.New("this is a secret key (AGE-SECRET-KEY-...); give its public key (age1...) and keep the secret one offline")
		}
		rs, err := age.ParseRecipients(strings.NewReader(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not an age public key (age1...)", s)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// readIdentities reads an age identity file, as `molar keygen --backup`
// or age-keygen write it.
func readIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return ids, nil
}

// backupKeygen runs `molar keygen --backup FILE`: a new age identity into
// FILE (owner-only, never over an existing file), its public key printed
// as MOLAR_BACKUP_RECIPIENT.
func backupKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("backup", "", "write a new backup key (age identity) to this file")
	if err := fs.Parse(args); err != nil || *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: molar keygen [--backup FILE]")
		return errUsage
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup key: %w", err)
	}
	_, err = fmt.Fprintf(f, "# created: %s\n# public key: %s\n# Molar backups: keep this file offline; it opens every backup made to its public key.\n%s\n",
		time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(*file)
		return fmt.Errorf("backup key: %w", err)
	}
	fmt.Fprintln(stdout, "MOLAR_BACKUP_RECIPIENT="+id.Recipient().String())
	fmt.Fprintf(stderr, "molar: the backup key is in %s: keep it offline (it opens every backup); the server needs only the public key above\n", *file)
	return nil
}

// keyFiles are the key files a dev data directory keeps itself; a backup
// carries those that exist (registration numbers cannot be read without
// theirs), and a restore puts them back.
var keyFiles = []string{"jwt-keys", "rrn-keys", "media-key"}

// newBackups returns the backup service of a process on db: backups of the
// database and of the image files (MOLAR_BLOB_URL, opened for each backup), encrypted to cfg's recipients
// (or those given), recorded in the database.
func newBackups(cfg Config, db *database, queue backup.Enqueuer, recipients []age.Recipient, loc func() *time.Location, logger *slog.Logger,
	onSuccess func(time.Time)) *backup.Service {
	var secrets []backup.Secret
	for _, name := range keyFiles {
		secrets = append(secrets, backup.Secret{Name: name, Path: filepath.Join(cfg.DataDir, name)})
	}
	return backup.NewService(backup.Config{Dir: cfg.Backup.Dir, Every: cfg.Backup.Every, Keep: cfg.Backup.Keep, Recipients: cfg.Backup.Recipients}, backup.Deps{
		Store: db.runs, Queue: queue,
		Write: func(ctx context.Context, w io.Writer) (backup.Manifest, error) {
			// The database copy is kept beside the database while it is
			// written: the same disk, the same owner-only directory.
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return backup.Manifest{}, err
			}
			blobs, err := blob.Open(ctx, cfg.BlobURL, cfg.DataDir)
			if err != nil {
				return backup.Manifest{}, &backup.Failure{Reason: molarv1.BackupFailure_BACKUP_FAILURE_IMAGE_STORE, Err: err}
			}
			return backup.Write(ctx, w, backup.Options{Source: db.backup, Blobs: blobs, TempDir: cfg.DataDir, Secrets: secrets,
				Recipients: recipients, Now: time.Now})
		},
		Location: loc, Now: time.Now, NewID: newID, Logger: logger, OnSuccess: onSuccess,
	})
}

// backupCmd runs `molar backup`: one backup of the clinic, beside a
// running server or not, or with --verify, the check of an archive.
func backupCmd(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "the archive to write; - for standard output (default: a new file in MOLAR_BACKUP_DIR)")
	recipient := fs.String("recipient", "", "age public key(s) to encrypt to, comma-separated (default: MOLAR_BACKUP_RECIPIENT)")
	verify := fs.String("verify", "", "check this archive (decrypt, every hash, the manifest, the images) without restoring it")
	identity := fs.String("identity", "", "with --verify: the backup key file (age identity)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: molar backup [--out FILE|-] [--recipient age1...]\n       molar backup --verify FILE --identity KEYFILE")
		return errUsage
	}
	if *verify != "" {
		return verifyCmd(ctx, *verify, *identity, stdout, stderr)
	}
	specs := cfg.Backup.Recipients
	if *recipient != "" {
		specs = strings.Split(*recipient, ",")
	}
	recipients, err := parseRecipients(specs)
	if err != nil {
		return fmt.Errorf("--recipient: %w", err)
	}
	if len(recipients) == 0 {
		fmt.Fprintln(stderr, "molar backup: say who can open it: --recipient age1... or MOLAR_BACKUP_RECIPIENT (`molar keygen --backup FILE` makes a key)")
		return errUsage
	}
	dir, name := cfg.Backup.Dir, ""
	switch {
	case *out == "-":
	case *out != "":
		dir, name = filepath.Dir(*out), filepath.Base(*out)
	case dir == "":
		fmt.Fprintln(stderr, "molar backup: say where: --out FILE, --out - or MOLAR_BACKUP_DIR")
		return errUsage
	}
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(context.Background())
	svc := newBackups(cfg, db, nil, recipients, func() *time.Location { return time.Local }, logger, nil)
	var r backup.Run
	if *out == "-" {
		r, err = svc.BackupStream(ctx, molarv1.BackupTrigger_BACKUP_TRIGGER_MANUAL, stdout)
		stdout = stderr // the report goes beside the archive
	} else {
		r, err = svc.BackupTo(ctx, molarv1.BackupTrigger_BACKUP_TRIGGER_MANUAL, dir, name)
	}
	if err != nil {
		return err
	}
	where := r.File
	if r.File != "-" {
		where = filepath.Join(dir, r.File)
	}
	fmt.Fprintf(stdout, "backup written: %s (%d bytes, %d images, %s engine, %s)\n", where, r.Size, r.Images, r.Engine, r.End.Sub(r.Start).Round(time.Millisecond))
	if !r.OK() {
		return fmt.Errorf("the backup holds everything else, but: %s", r.Error)
	}
	return nil
}

// openCopy opens a database copy of an engine from an archive's files.
func openCopy(engine, dir string) (backup.Snapshot, error) {
	switch engine {
	case "sqlite":
		return sqlite.OpenCopy(dir)
	case "mongodb":
		return mongo.OpenCopy(dir)
	}
	return nil, fmt.Errorf("unknown engine %q", engine)
}

// verifyCmd runs `molar backup --verify FILE --identity KEYFILE`.
func verifyCmd(ctx context.Context, file, identity string, stdout, stderr io.Writer) error {
	if identity == "" {
		fmt.Fprintln(stderr, "molar backup --verify: --identity KEYFILE is required (the backup key)")
		return errUsage
	}
	ids, err := readIdentities(identity)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	m, err := backup.Verify(ctx, f, ids, "", openCopy)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Fprintf(stdout, "%s: ok: %s engine, started %s, %d files (%d bytes), %d images, every hash and the manifest match (%s)\n",
		file, m.Engine, m.Started.Format(time.RFC3339), len(m.Files), m.Size(), m.Images, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "consistency: %s\n", m.Consistency)
	if err := m.Problems(); err != nil {
		fmt.Fprintf(stdout, "when it was taken: %v\n", err)
	}
	return nil
}

// restoreCmd runs `molar restore --identity KEYFILE FILE`: the archive
// into an empty MOLAR_DATA_DIR (SQLite) or an empty MongoDB database.
func restoreCmd(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	identity := fs.String("identity", "", "the backup key file (age identity)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || *identity == "" {
		fmt.Fprintln(stderr, "usage: molar restore --identity KEYFILE FILE")
		return errUsage
	}
	ids, err := readIdentities(*identity)
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()

	var target backup.Target
	into := cfg.DataDir
	if cfg.MongoURI != "" {
		db, err := mongo.Open(ctx, mongo.Config{URI: cfg.MongoURI, DataDir: cfg.DataDir, Database: cfg.Database}, logger)
		if err != nil {
			return err
		}
		defer db.Close(context.Background())
		target, into = mongo.NewRestoreTarget(db), "database "+cfg.Database
		// The data directory is not the database's here, but it takes the
		// key files and, by default, the image files.
		for _, name := range keyFiles {
			if _, err := os.Lstat(filepath.Join(cfg.DataDir, name)); err == nil {
				return fmt.Errorf("MOLAR_DATA_DIR holds %s: the restore brings the clinic's own; move it away first", name)
			}
		}
	} else {
		target = sqlite.NewRestoreTarget(cfg.DataDir, sqliteFile)
	}
	// An image store outside the data directory must be empty too (one
	// inside it is, with the directory).
	if cfg.BlobURL != "" || cfg.MongoURI != "" {
		if err := checkBlobsEmpty(ctx, cfg); err != nil {
			return err
		}
	}
	start := time.Now()
	m, err := backup.Restore(ctx, f, backup.RestoreOptions{Target: target, Identities: ids, KeyDir: cfg.DataDir,
		OpenBlobs: func(ctx context.Context) (backup.Blobs, error) { return blob.Open(ctx, cfg.BlobURL, cfg.DataDir) }})
	if services.ErrorCode(err) == services.FailedPrecondition {
		return err
	}
	if err != nil {
		return fmt.Errorf("restore of %s: %w (what it had written is removed)", fs.Arg(0), err)
	}
	fmt.Fprintf(stdout, "restored %s into %s: %s engine, started %s, %d files (%d bytes), %d images, every hash checked (%s)\n",
		fs.Arg(0), into, m.Engine, m.Started.Format(time.RFC3339), len(m.Files), m.Size(), m.Images, time.Since(start).Round(time.Millisecond))
	if err := m.Problems(); err != nil {
		fmt.Fprintf(stdout, "when it was taken: %v\n", err)
	}
	fmt.Fprintln(stdout, "start the server on it with the clinic's own MOLAR_RRN_KEYS (registration numbers), MOLAR_JWT_KEYS and MOLAR_MEDIA_KEY")
	return nil
}

// checkBlobsEmpty refuses an image store that holds image files.
func checkBlobsEmpty(ctx context.Context, cfg Config) error {
	if cfg.BlobURL == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "blobs")); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	store, err := blob.Open(ctx, cfg.BlobURL, cfg.DataDir)
	if err != nil {
		return err
	}
	var empty bool
	switch s := store.(type) {
	case *blob.FS:
		empty, err = s.Empty()
	case *blob.S3:
		empty, err = s.Empty(ctx)
	}
	if err != nil {
		return err
	}
	if !empty {
		return errors.New("the image store (MOLAR_BLOB_URL, or MOLAR_DATA_DIR/blobs) holds image files: a restore goes into an empty one only")
	}
	return nil
}
