package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// AuditStore is the append-only audit trail, paged newest first by
// (time, id), so new events never shift a page.
type AuditStore struct {
	db *DB
}

var _ audit.Store = (*AuditStore)(nil)

// NewAuditStore returns the audit trail of db.
func NewAuditStore(db *DB) *AuditStore { return &AuditStore{db: db} }

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// appendAudit stores e unless an event with its id is there already; an
// event without an id (none to record) is skipped.
func appendAudit(ctx context.Context, x execer, e audit.Event) error {
	if e.ID == "" {
		return nil
	}
	_, err := x.ExecContext(ctx, `INSERT INTO audit_events (id, at, action, actor_id, actor_email, ip, target_type, target_id, detail, request_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Time.UnixMilli(), int32(e.Action), e.ActorID, e.ActorEmail, e.IP, e.TargetType, e.TargetID, e.Detail, e.RequestID)
	return storeError(err, "audit event")
}

// Append implements audit.Store.
func (s *AuditStore) Append(ctx context.Context, e audit.Event) error {
	return appendAudit(ctx, s.db.sql, e)
}

// List implements audit.Store.
func (s *AuditStore) List(ctx context.Context, f audit.Filter, after string, limit int) ([]audit.Event, string, error) {
	var where []string
	var args []any
	if f.ActorID != "" {
		where, args = append(where, "actor_id = ?"), append(args, f.ActorID)
	}
	if f.TargetID != "" {
		where, args = append(where, "target_id = ?"), append(args, f.TargetID)
	}
	if len(f.Actions) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(f.Actions)), ",")
		where = append(where, "action IN ("+marks+")")
		for _, a := range f.Actions {
			args = append(args, int32(a))
		}
	}
	if !f.Start.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Start.UnixMilli())
	}
	if !f.End.IsZero() {
		where, args = append(where, "at < ?"), append(args, f.End.UnixMilli())
	}
	if after != "" {
		at, id, ok := parseCursor(after)
		if !ok {
			return nil, "", services.InvalidFields(services.Violation{Field: "page_token", Rule: "page_token.valid", Message: "not a page token from this list"})
		}
		where, args = append(where, "(at < ? OR (at = ? AND id < ?))"), append(args, at, at, id)
	}
	q := `SELECT id, at, action, actor_id, actor_email, ip, target_type, target_id, detail, request_id FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", storeError(err, "audit events")
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var at int64
		var action int32
		if err := rows.Scan(&e.ID, &at, &action, &e.ActorID, &e.ActorEmail, &e.IP, &e.TargetType, &e.TargetID, &e.Detail, &e.RequestID); err != nil {
			return nil, "", storeError(err, "audit events")
		}
		e.Time, e.Action = time.UnixMilli(at).UTC(), molarv1.AuditAction(action)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", storeError(err, "audit events")
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.Time.UnixMilli(), 10) + "|" + last.ID))
	}
	return out, next, nil
}

func parseCursor(s string) (int64, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", false
	}
	ms, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return 0, "", false
	}
	at, err := strconv.ParseInt(ms, 10, 64)
	return at, id, err == nil
}
