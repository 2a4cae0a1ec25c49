// Package chart keeps each patient's tooth chart and clinical notes, the
// procedure catalog they draw on, and every change ever made to them.
package chart

import (
	"slices"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Record is everything clinical about one patient at one version: the
// chart as the list of changes made to it, and the notes. A version is
// stored as the Change it makes to the one before, so the stored size grows
// with what was written, not with the number of versions.
type Record struct {
	PatientID string
	Version   int64
	Events    []Event
	Notes     []Note
}

// EventType is what a chart change did.
type EventType string

// The kinds of chart change.
const (
	EventAdd    EventType = "add"
	EventStatus EventType = "status"
	EventRemove EventType = "remove"
)

// Event is one change to the chart.
type Event struct {
	Type   EventType
	At     time.Time
	By     string
	ByName string
	// Entry is the new entry, for EventAdd.
	Entry Entry
	// EntryID names the entry changed, for EventStatus and EventRemove.
	EntryID string
	Status  molarv1.EntryStatus
	Reason  string
}

// Entry is a condition or procedure on the chart.
type Entry struct {
	ID            string
	Tooth         int32
	Surfaces      []molarv1.Surface
	Condition     molarv1.Condition
	ProcedureCode string
	ProcedureName string
	Fee           int64
	Status        molarv1.EntryStatus
	CreatedBy     string
	Created       time.Time
	UpdatedBy     string
	Updated       time.Time
	Completed     time.Time
}

// Note is a clinical note with its earlier versions.
type Note struct {
	ID            string
	Title         string
	Content       string
	Tags          []string
	AuthorID      string
	AuthorName    string
	Created       time.Time
	Revisions     []NoteRevision
	Removed       bool
	RemovedReason string
	Version       int64
	// Updated and UpdatedBy say when and by whom the current text was written.
	Updated   time.Time
	UpdatedBy string
}

// NoteRevision is an earlier version of a note.
type NoteRevision struct {
	Title      string
	Content    string
	Tags       []string
	AuthorName string
	Time       time.Time
}

// ChartAt replays the changes made up to t (all of them for the zero time)
// and returns the entries on the chart then, in charting order, with the
// number of changes replayed.
func (r Record) ChartAt(t time.Time) ([]Entry, int) {
	var entries []Entry
	n := 0
	for _, e := range r.Events {
		if !t.IsZero() && e.At.After(t) {
			break
		}
		n++
		switch e.Type {
		case EventAdd:
			entries = append(entries, e.Entry)
		case EventStatus:
			if i := slices.IndexFunc(entries, func(x Entry) bool { return x.ID == e.EntryID }); i >= 0 {
				entries[i].Status, entries[i].UpdatedBy, entries[i].Updated = e.Status, e.ByName, e.At
				if e.Status == molarv1.EntryStatus_ENTRY_STATUS_COMPLETED {
					entries[i].Completed = e.At
				} else {
					entries[i].Completed = time.Time{}
				}
			}
		case EventRemove:
			entries = slices.DeleteFunc(entries, func(x Entry) bool { return x.ID == e.EntryID })
		}
	}
	return entries, n
}

// clone copies r deeply enough to change it.
func (r Record) clone() Record {
	c := r
	c.Events = slices.Clone(r.Events)
	c.Notes = slices.Clone(r.Notes)
	for i := range c.Notes {
		c.Notes[i].Revisions = slices.Clone(c.Notes[i].Revisions)
		c.Notes[i].Tags = slices.Clone(c.Notes[i].Tags)
	}
	return c
}

// Change is what one version adds to the one before it: the chart changes
// made, and each note written, carrying only the revisions it adds. Chart
// changes are only ever appended and notes only ever added or rewritten,
// so a version is its predecessor with its Change applied.
type Change struct {
	PatientID string
	Version   int64
	Events    []Event
	Notes     []Note
}

// ChangeFrom returns what next, one version on from prev, adds to it.
func ChangeFrom(prev, next Record) Change {
	c := Change{PatientID: next.PatientID, Version: next.Version, Events: slices.Clone(next.Events[min(len(prev.Events), len(next.Events)):])}
	for _, n := range next.Notes {
		i := slices.IndexFunc(prev.Notes, func(p Note) bool { return p.ID == n.ID })
		if i >= 0 && sameNote(prev.Notes[i], n) {
			continue
		}
		if i >= 0 {
			n.Revisions = n.Revisions[min(len(prev.Notes[i].Revisions), len(n.Revisions)):]
		}
		n.Revisions = slices.Clone(n.Revisions)
		c.Notes = append(c.Notes, n)
	}
	return c
}

// sameNote reports whether a note reads the same in two versions (a
// removal keeps the note's own version, so every field counts).
func sameNote(a, b Note) bool {
	return a.Version == b.Version && a.Removed == b.Removed && a.RemovedReason == b.RemovedReason && a.Title == b.Title &&
		a.Content == b.Content && slices.Equal(a.Tags, b.Tags) && len(a.Revisions) == len(b.Revisions) &&
		a.Updated.Equal(b.Updated) && a.UpdatedBy == b.UpdatedBy
}

// Apply returns r with c applied, at c's version: its chart changes after
// r's, each note it writes in place of r's (its revisions after r's) or
// after r's notes if new. r itself is not changed.
func (r Record) Apply(c Change) Record {
	out := r.clone()
	out.PatientID, out.Version = c.PatientID, c.Version
	out.Events = append(out.Events, c.Events...)
	for _, n := range c.Notes {
		i := slices.IndexFunc(out.Notes, func(p Note) bool { return p.ID == n.ID })
		if i < 0 {
			n.Revisions = slices.Clone(n.Revisions)
			out.Notes = append(out.Notes, n)
			continue
		}
		n.Revisions = append(out.Notes[i].Revisions, n.Revisions...)
		out.Notes[i] = n
	}
	return out
}

// Whole returns r as a Change from nothing: how a record moved in bulk is
// stored.
func (r Record) Whole() Change {
	return ChangeFrom(Record{}, r)
}
