package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gofrs/flock"
	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/billing"
	"github.com/molar-dental/molar/services/schedule"
)

// The embedded engine before SQLite kept its files in MOLAR_DATA_DIR/db.
const embeddedMongoDir = "db"

// hasEmbeddedMongo reports whether dir holds data of the earlier embedded
// engine that has not been moved yet.
func hasEmbeddedMongo(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, embeddedMongoDir, "*.sqlite"))
	return len(files) > 0
}

// migrateOnce moves the earlier engine's data into the SQLite database at
// path unless that exists already. Processes starting together on one data
// directory take turns, so only the first moves anything.
func migrateOnce(ctx context.Context, cfg Config, logger *slog.Logger, path string) error {
	lock := flock.New(filepath.Join(cfg.DataDir, "migrate.lock"), flock.SetPermissions(0o600))
	if err := lock.Lock(); err != nil {
		return err
	}
	defer func() { _ = lock.Unlock() }()
	if _, err := os.Stat(path); err == nil || !hasEmbeddedMongo(cfg.DataDir) {
		return nil
	}
	return migrateEmbedded(ctx, cfg, logger)
}

// migrateEmbedded moves everything the earlier embedded engine holds into a
// new SQLite database: the clinic, staff accounts, the audit trail,
// patients with every version of their chart and notes, the catalog, the
// book, and every account with its invoices and payments. It writes a
// separate file and renames it into place only when all of it is there, so
// a crash halfway leaves the old data as it was and the next start begins
// again. Signed-in sessions are not moved: everyone signs in once more.
func migrateEmbedded(ctx context.Context, cfg Config, logger *slog.Logger) error {
	start := time.Now()
	final := filepath.Join(cfg.DataDir, sqliteFile)
	partial := final + ".migrating"
	for _, p := range []string{partial, partial + "-wal", partial + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	from, err := mongo.Open(ctx, mongo.Config{DataDir: cfg.DataDir, Database: cfg.Database}, logger)
	if err != nil {
		return err
	}
	defer from.Close(context.Background())
	src := mongoDatabase(from, logger)
	if err := src.prepare(ctx, nil); err != nil { // invoices of the layout before accounts
		return err
	}
	// First finish what the earlier engine's last process may have left
	// half done, exactly as its own start-up would: copies that lag their
	// committed changes, audit records not yet in the trail.
	a, err := newApp(cfg, src, logger, time.Now)
	if err != nil {
		return err
	}
	if err := errors.Join(recoverAudit(ctx, src, a.audit), a.billing.Recover(ctx), a.schedule.Start(ctx)); err != nil {
		return err
	}
	if err := a.schedule.Recover(ctx); err != nil {
		return err
	}
	to, err := sqlite.Open(ctx, partial)
	if err != nil {
		return err
	}
	dst := sqliteDatabase(to, cfg.ChangeRetention)
	counts, err := copyData(ctx, src, dst)
	if cerr := to.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(partial, final); err != nil {
		return err
	}
	old := filepath.Join(cfg.DataDir, embeddedMongoDir)
	if err := os.Rename(old, old+".migrated-"+time.Now().UTC().Format("20060102T150405")); err != nil {
		logger.Warn("the earlier engine's files could not be moved aside", "error", err.Error())
	}
	logger.Info("data moved from the earlier embedded engine", append(counts, "duration_ms", time.Since(start).Milliseconds())...)
	return nil
}

// copyData copies every record of src into dst and returns what it copied,
// as log attributes.
func copyData(ctx context.Context, src, dst *database) ([]any, error) {
	var counts []any
	count := func(what string, n int) { counts = append(counts, what, n) }

	if c, err := src.clinic.Get(ctx); err == nil {
		c.Version = 0
		if _, err := dst.clinic.Save(ctx, c, audit.Event{}); err != nil {
			return nil, fmt.Errorf("clinic: %w", err)
		}
	} else if !notFound(err) {
		return nil, fmt.Errorf("clinic: %w", err)
	}

	accounts, err := src.accounts.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	for _, a := range accounts {
		a.Version = 1
		if err := dst.accounts.Create(ctx, a, audit.Event{}); err != nil {
			return nil, fmt.Errorf("staff %s: %w", a.Email, err)
		}
		if !a.LastLogin.IsZero() {
			if err := dst.accounts.SetLastLogin(ctx, a.ID, a.LastLogin); err != nil {
				return nil, err
			}
		}
	}
	count("staff", len(accounts))

	n, after := 0, ""
	for {
		events, next, err := src.audit.List(ctx, audit.Filter{}, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("audit trail: %w", err)
		}
		for _, e := range events {
			if err := dst.audit.Append(ctx, e); err != nil {
				return nil, err
			}
		}
		n += len(events)
		if next == "" {
			break
		}
		after = next
	}
	count("audit_events", n)

	patients, err := src.patients.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("patients: %w", err)
	}
	if err := dst.patients.InsertMany(ctx, patients); err != nil {
		return nil, fmt.Errorf("patients: %w", err)
	}
	count("patients", len(patients))

	procs, err := src.clinical.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	for _, p := range procs {
		if err := dst.clinical.Save(ctx, p, audit.Event{ID: newID(), Time: time.Now(), Action: molarv1.AuditAction_AUDIT_ACTION_CATALOG_CHANGED,
			TargetType: "procedure", TargetID: p.GetCode(), Detail: "moved from the earlier embedded engine"}); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", p.GetCode(), err)
		}
	}
	count("procedures", len(procs))
	// One pass over the old engine's records (a query per patient scans
	// the whole collection each time there).
	records, err := src.clinical.(*mongo.ClinicalRepo).AllLatest(ctx)
	if err != nil {
		return nil, fmt.Errorf("charts: %w", err)
	}
	if err := dst.clinical.InsertMany(ctx, records); err != nil {
		return nil, fmt.Errorf("charts: %w", err)
	}
	count("charts", len(records))

	if err := copySchedule(ctx, src, dst, &counts); err != nil {
		return nil, err
	}

	invoices, err := src.billing.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("invoices: %w", err)
	}
	byPatient := map[string][]*molarv1.Invoice{}
	for _, inv := range invoices {
		byPatient[inv.GetPatientId()] = append(byPatient[inv.GetPatientId()], inv)
	}
	for p, invs := range byPatient {
		slices.SortFunc(invs, func(a, b *molarv1.Invoice) int { return a.GetCreateTime().AsTime().Compare(b.GetCreateTime().AsTime()) })
		if err := dst.billing.Commit(ctx, billing.Change{PatientID: p, Seq: 1, Invoices: invs, Time: time.Now()}); err != nil {
			return nil, fmt.Errorf("account of %s: %w", p, err)
		}
	}
	count("invoices", len(invoices))
	return counts, nil
}

// copySchedule copies the book: resources, every appointment with the cells
// it holds, live blockouts, and the revision the book had reached, so that
// screens that resume from a revision they saw never go back in time.
func copySchedule(ctx context.Context, src, dst *database, counts *[]any) error {
	providers, chairs, types, err := src.schedule.Resources(ctx)
	if err != nil {
		return fmt.Errorf("book resources: %w", err)
	}
	for _, p := range providers {
		if err := dst.schedule.SaveProvider(ctx, p, audit.Event{}); err != nil {
			return err
		}
	}
	for _, c := range chairs {
		if err := dst.schedule.SaveChair(ctx, c, audit.Event{}); err != nil {
			return err
		}
	}
	for _, t := range types {
		if err := dst.schedule.SaveType(ctx, t, audit.Event{}); err != nil {
			return err
		}
	}
	appts, blocks, err := src.schedule.Range(ctx, time.Time{}, time.Time{})
	if err != nil {
		return fmt.Errorf("book: %w", err)
	}
	c, err := dst.clinic.Get(ctx)
	if err != nil && !notFound(err) {
		return err
	}
	loc, err := time.LoadLocation(c.GetTimeZone())
	if err != nil {
		loc = time.UTC
	}
	var slots []schedule.Slot
	var claims []schedule.Claim
	var last int64
	for _, a := range appts {
		last = max(last, a.GetRevision())
		if a.GetStatus() == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED || a.GetStatus() == molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW {
			continue
		}
		for _, s := range schedule.CellsOf(a.GetProviderId(), a.GetChairId(), a.GetStartTime().AsTime(), a.GetMinutes(), loc) {
			slots = append(slots, s)
			claims = append(claims, schedule.Claim{Owner: a.GetId(), Op: "migrated", Version: a.GetVersion(), At: time.Now()})
		}
	}
	if err := dst.schedule.InsertSlots(ctx, slots, claims); err != nil {
		return fmt.Errorf("book cells: %w", err)
	}
	if err := dst.schedule.SaveAppointments(ctx, appts); err != nil {
		return fmt.Errorf("appointments: %w", err)
	}
	for _, b := range blocks {
		last = max(last, b.GetRevision())
		if err := dst.schedule.SaveBlockout(ctx, b); err != nil {
			return err
		}
	}
	if srcLast, err := src.schedule.LastRevision(ctx); err == nil {
		last = max(last, srcLast)
	}
	if last > 0 {
		// One event at the revision the book had reached: the next change
		// takes the revision after it.
		if ev, err := src.schedule.Event(ctx, last); err == nil {
			ev.Audit = audit.Event{}
			if err := dst.schedule.AppendEvent(ctx, ev); err != nil {
				return err
			}
		} else if len(appts) > 0 {
			if err := dst.schedule.AppendEvent(ctx, schedule.Event{Revision: last, Appointment: appts[len(appts)-1], Op: "migrated"}); err != nil {
				return err
			}
		}
	}
	*counts = append(*counts, "appointments", len(appts), "blockouts", len(blocks))
	return nil
}

func notFound(err error) bool { return services.ErrorCode(err) == services.NotFound }
