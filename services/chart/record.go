// Package chart keeps each patient's tooth chart and clinical notes, the
// procedure catalog they draw on, and every change ever made to them.
package chart

import (
	"slices"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Record is everything clinical about one patient at one version: the
// chart as the list of changes made to it, and the notes. Each version is
// stored whole, so saving version n+1 is a single insert.
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
