package main

import (
	"context"
	"time"

	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/images"
	"github.com/molar-dental/molar/services/patient"
)

// sweepEvery is how often the loop finishes what stopped processes left
// and rereads what is cheap to reread.
const sweepEvery = time.Minute

// run is the process's one background loop, until ctx ends. It looks for
// commits of other processes as the engine allows (SQLite's change counter;
// a MongoDB change stream, or a timer where there is none) and, when there
// are any, brings what this process keeps in memory up to date from the
// change log and the book's log. Every sweepEvery it also sweeps: audit
// records of changes committed but not projected, billing changes not
// settled, schedule claims of operations that never committed, ended
// sessions, expired refresh tokens and old failed sign-ins (where the
// engine has no TTL index), and the logs' pruning.
func (a *app) run(ctx context.Context, log logReader, c commits) {
	look := time.NewTicker(c.every)
	defer look.Stop()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	pruned := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-look.C:
			if time.Since(pruned) >= log.pruneEvery {
				pruned = time.Now()
				log.prune(ctx)
			}
			if c.changed != nil && !c.changed(ctx) {
				continue
			}
		case <-sweep.C:
			a.sweep(ctx)
		}
		a.catchUp(ctx, log)
	}
}

// poke asks the loop to read the logs now.
func (a *app) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// catchUp reads what other processes committed: the change log (patients,
// the catalog, ended sessions; when the reader fell behind its pruning,
// everything it keeps is read again), then the book's log.
func (a *app) catchUp(ctx context.Context, log logReader) {
	cs, behind, err := log.next(ctx)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			a.logger.Warn("change log not read", "error", err.Error())
		}
	case behind:
		// Charts and accounts are read through, so they need nothing.
		if err := a.patients.Load(ctx); err != nil {
			a.logger.Warn("reload after falling behind the change log failed", "error", err.Error())
		}
		_, _, _ = a.chart.ReloadCatalog(ctx)
		if err := a.revocations.Sync(ctx); err != nil {
			a.logger.Warn("session revocations not loaded", "error", err.Error())
		}
	case len(cs) > 0:
		var patients, imaged []string
		catalog := false
		for _, c := range cs {
			switch c.Kind {
			case patient.ChangeKind:
				patients = append(patients, c.Key)
			case chart.ChangeKindCatalog:
				catalog = true
			case auth.ChangeKindSession:
				a.revocations.Add(c.Key)
			case images.ChangeKind:
				imaged = append(imaged, c.Key)
			}
		}
		a.images.Refresh(ctx, imaged)
		a.patients.Refresh(ctx, patients)
		if catalog {
			_, _, _ = a.chart.ReloadCatalog(ctx)
		}
	}
	a.schedule.CatchUp(ctx)
}

// sweep finishes what a process that stopped left undone (audit records,
// billing settlement, claims), prunes what expired where no TTL index
// does, and rereads what a lost change record could
// have left stale. Each step is idempotent, so
// it runs beside live requests and beside the other processes' sweeps.
func (a *app) sweep(ctx context.Context) {
	if err := recoverAudit(ctx, a.db, a.audit); err != nil && ctx.Err() == nil {
		a.logger.Warn("audit records of earlier changes not all projected; they stay pending", "error", err.Error())
	}
	if err := a.billing.Recover(ctx); err != nil && ctx.Err() == nil {
		a.logger.Warn("billing changes not all settled", "error", err.Error())
	}
	if a.db.reap != nil {
		if err := a.db.reap(ctx); err != nil && ctx.Err() == nil {
			a.logger.Warn("claims of operations that never committed not all freed", "error", err.Error())
		}
	}
	if a.db.prune != nil {
		if n, err := a.db.prune(ctx, a.now()); err != nil && ctx.Err() == nil {
			a.logger.Warn("expired refresh tokens and old failed sign-ins not pruned", "error", err.Error())
		} else if n > 0 {
			a.logger.Debug("expired refresh tokens and old failed sign-ins pruned", "rows", n)
		}
	}
	a.schedule.Sweep(ctx)
	if err := a.images.Sweep(ctx); err != nil && ctx.Err() == nil {
		a.logger.Warn("thumbnail jobs not all queued", "error", err.Error())
	}
	if err := a.revocations.Sync(ctx); err != nil && ctx.Err() == nil {
		a.logger.Warn("session revocations not synced", "error", err.Error())
	}
}
