package main

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
)

// app is the domain services over one database, shared by the server and
// the admin commands.
type app struct {
	audit       *audit.Recorder
	auth        *auth.Service
	tokens      *auth.Tokens
	revocations *auth.Revocations
	sessions    *mongo.SessionRepo
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// newApp builds the services.
func newApp(cfg Config, db *mongo.DB, logger *slog.Logger, now func() time.Time) (*app, error) {
	var keys *auth.KeySet
	var err error
	if cfg.JWTKeys != "" {
		keys, err = auth.ParseKeySet(cfg.JWTKeys)
	} else {
		keys, err = auth.LoadOrCreateKeySet(filepath.Join(cfg.DataDir, "jwt-keys"))
	}
	if err != nil {
		return nil, err
	}
	a := &app{sessions: mongo.NewSessionRepo(db)}
	a.audit = audit.NewRecorder(mongo.NewAuditRepo(db), now, newID, logger)
	a.tokens = auth.NewTokens(keys, auth.DefaultConfig.AccessTTL, now)
	a.revocations = auth.NewRevocations(a.sessions, auth.DefaultConfig.AccessTTL+time.Minute, now, logger)
	a.auth, err = auth.NewService(auth.DefaultConfig, auth.Deps{
		Accounts: mongo.NewStaffRepo(db), Sessions: a.sessions, Failures: a.sessions, Tokens: a.tokens,
		Revocations: a.revocations, Audit: a.audit, Now: now, NewID: newID, Logger: logger,
	})
	return a, err
}
