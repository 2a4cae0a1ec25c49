package chart

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestChangeFromAndApply: a version's change holds only what it added (new
// chart changes, notes written with their new revisions), and applying it
// to the version before gives the version back.
func TestChangeFromAndApply(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n1 := Note{ID: "n1", Title: "초진", Content: "#16", Version: 1, Created: at}
	n2 := Note{ID: "n2", Title: "메모", Content: "전화 요망", Version: 1, Created: at}
	prev := Record{PatientID: "p1", Version: 3, Events: []Event{{Type: EventAdd, At: at, Entry: Entry{ID: "e1", Tooth: 16}}}, Notes: []Note{n1, n2}}
	amended := n1
	amended.Content, amended.Version = "#16 레진", 2
	amended.Revisions = []NoteRevision{{Title: "초진", Content: "#16", Time: at}}
	n3 := Note{ID: "n3", Title: "재진", Content: "경과 양호", Version: 1, Created: at}
	next := Record{PatientID: "p1", Version: 4,
		Events: append(prev.clone().Events, Event{Type: EventStatus, At: at, EntryID: "e1"}),
		Notes:  []Note{amended, n2, n3}}

	c := ChangeFrom(prev, next)
	if len(c.Events) != 1 || c.Events[0].Type != EventStatus {
		t.Errorf("chart changes in the change: %+v, want the one status change", c.Events)
	}
	if len(c.Notes) != 2 || c.Notes[0].ID != "n1" || c.Notes[1].ID != "n3" || len(c.Notes[0].Revisions) != 1 {
		t.Errorf("notes in the change: %+v, want n1 with its one new revision and n3", c.Notes)
	}
	if diff := cmp.Diff(next, prev.Apply(c), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(next, Record{}.Apply(next.Whole()), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("whole (-want +got):\n%s", diff)
	}
	if len(prev.Notes[0].Revisions) != 0 || len(prev.Events) != 1 {
		t.Error("Apply changed the record it was given")
	}

	removed := next.clone()
	removed.Version = 5
	removed.Notes[1].Removed, removed.Notes[1].RemovedReason = true, "중복"
	c = ChangeFrom(next, removed)
	if len(c.Notes) != 1 || c.Notes[0].ID != "n2" || !c.Notes[0].Removed {
		t.Errorf("a removal's change: %+v, want n2 removed", c.Notes)
	}
	if diff := cmp.Diff(removed, next.Apply(c), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("removal applied (-want +got):\n%s", diff)
	}
}
