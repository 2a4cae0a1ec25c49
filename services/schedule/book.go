package schedule

import (
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Book is this process's copy of the appointment book, built from the event
// log in revision order. Reads and watches are served from it; writes go to
// the database and come back through the log, so every process sees every
// change in the same order.
//
// It holds a window of the book, not all of its history: every day from a
// first day (some weeks before today) on, and earlier days only once a
// screen asked for them. Anything else is read from the store's copies on
// demand and kept current from then on.
type Book struct {
	loc *time.Location
	// from is the first day (YYYY-MM-DD) held whole; extra are earlier days
	// read on demand.
	from  string
	extra map[string]bool

	mu     sync.RWMutex
	rev    int64
	appts  map[string]*molarv1.Appointment
	blocks map[string]*molarv1.Blockout
	// byDay indexes appointments by the day they start, so a day or week
	// is read without looking at the rest of the years.
	byDay  map[string]map[string]struct{}
	recent []applied // the last events applied, oldest first, for resuming watchers
	keep   int
	subs   map[*Watcher]struct{}
	// changed is closed and replaced on every apply, to wake waiters.
	changed chan struct{}
}

// NewBook returns an empty book in the clinic's time zone, remembering the
// last keep events for watchers that reconnect.
func NewBook(loc *time.Location, keep int) *Book {
	return &Book{loc: loc, appts: map[string]*molarv1.Appointment{}, blocks: map[string]*molarv1.Blockout{}, byDay: map[string]map[string]struct{}{},
		extra: map[string]bool{}, keep: keep, subs: map[*Watcher]struct{}{}, changed: make(chan struct{})}
}

// From is the first day the book holds whole.
func (b *Book) From() string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.from
}

// holdsLocked reports whether the book holds a day whole.
func (b *Book) holdsLocked(day string) bool { return day >= b.from || b.extra[day] }

// Missing lists the days of f the book does not hold, oldest first.
func (b *Book) Missing(f Filter) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []string
	from, err1 := time.ParseInLocation(time.DateOnly, f.From, b.loc)
	to, err2 := time.ParseInLocation(time.DateOnly, f.To, b.loc)
	if err1 != nil || err2 != nil {
		return nil
	}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		if day := d.Format(time.DateOnly); !b.holdsLocked(day) {
			out = append(out, day)
		}
	}
	return out
}

// adopt adds stored copies read for days the book did not hold (days) or
// for one thing asked for by id (days empty), and from then on holds those
// days. Copies may lag the log, so every remembered event newer than what
// the book now has for those days or things is applied over them.
func (b *Book) adopt(days []string, appts []*molarv1.Appointment, blocks []*molarv1.Blockout) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range days {
		if d < b.from {
			b.extra[d] = true
		}
	}
	for _, a := range appts {
		if cur, ok := b.appts[a.GetId()]; !ok || cur.GetRevision() < a.GetRevision() {
			b.putLocked(a)
		}
	}
	for _, x := range blocks {
		if cur, ok := b.blocks[x.GetId()]; (!ok || cur.GetRevision() < x.GetRevision()) && !x.GetDeleted() {
			b.blocks[x.GetId()] = x
		}
	}
	for _, r := range b.recent {
		b.overLocked(r.e)
	}
}

// overLocked applies an event to what the book holds, if it is newer.
func (b *Book) overLocked(e Event) {
	switch {
	case e.Appointment != nil:
		cur, ok := b.appts[e.Appointment.GetId()]
		if (ok && cur.GetRevision() < e.Revision) || (!ok && b.holdsLocked(b.dayOf(e.Appointment))) {
			b.putLocked(e.Appointment)
		}
	case e.Blockout != nil:
		cur, ok := b.blocks[e.Blockout.GetId()]
		if ok && cur.GetRevision() >= e.Revision {
			return
		}
		switch {
		case e.Blockout.GetDeleted():
			delete(b.blocks, e.Blockout.GetId())
		case ok || b.holdsLocked(b.blockDay(e.Blockout)):
			b.blocks[e.Blockout.GetId()] = e.Blockout
		}
	}
}

// remembered returns the newest remembered state of an appointment or
// blockout (by id) the book does not hold.
func (b *Book) remembered(id string) (*molarv1.Appointment, *molarv1.Blockout) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for i := len(b.recent) - 1; i >= 0; i-- {
		e := b.recent[i].e
		if e.Appointment.GetId() == id {
			return e.Appointment, nil
		}
		if e.Blockout.GetId() == id {
			return nil, e.Blockout
		}
	}
	return nil, nil
}

// slide moves the first day held whole to from, and forgets what starts
// before it, except days a watcher is watching.
func (b *Book) slide(from string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if from <= b.from {
		return
	}
	b.from = from
	watched := func(day string) bool {
		for w := range b.subs {
			if day >= w.f.From && day <= w.f.To {
				return true
			}
		}
		return false
	}
	for d := range b.extra {
		if !watched(d) {
			delete(b.extra, d)
		}
	}
	for d, ids := range b.byDay {
		if d >= from || b.extra[d] || watched(d) {
			continue
		}
		for id := range ids {
			delete(b.appts, id)
		}
		delete(b.byDay, d)
	}
	for id, x := range b.blocks {
		if d := b.blockDay(x); d < from && !b.extra[d] && !watched(d) {
			delete(b.blocks, id)
		}
	}
}

// Revision is the revision the book is current at.
func (b *Book) Revision() int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.rev
}

// load fills the book from stored documents of the days from on, current
// at rev.
func (b *Book) load(from string, appts []*molarv1.Appointment, blocks []*molarv1.Blockout, rev int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.from = from
	for _, a := range appts {
		b.putLocked(a)
	}
	for _, x := range blocks {
		b.blocks[x.GetId()] = x
	}
	b.rev = rev
}

// reset replaces everything the book holds with stored documents current
// at rev, for a process that fell behind the part of the log still kept.
// Every watcher is told it lost events, so each starts again from a
// snapshot.
func (b *Book) reset(from string, appts []*molarv1.Appointment, blocks []*molarv1.Blockout, rev int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.appts, b.blocks, b.byDay, b.recent = map[string]*molarv1.Appointment{}, map[string]*molarv1.Blockout{}, map[string]map[string]struct{}{}, nil
	b.from, b.extra = from, map[string]bool{}
	for _, a := range appts {
		b.putLocked(a)
	}
	for _, x := range blocks {
		b.blocks[x.GetId()] = x
	}
	b.rev = rev
	for w := range b.subs {
		w.once.Do(func() { close(w.overflow) })
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// apply adds the next event. Events must come in revision order; one that
// is not newer than the book is ignored (it is already in). One older than
// the stored copy it changes (loaded at start) is remembered but changes
// nothing.
func (b *Book) apply(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.Revision <= b.rev {
		return
	}
	b.rev = e.Revision
	var old proto.Message
	newer := true
	switch {
	case e.Appointment != nil:
		if cur, ok := b.appts[e.Appointment.GetId()]; ok {
			old = cur
			newer = cur.GetRevision() < e.Revision
		}
	case e.Blockout != nil:
		if cur, ok := b.blocks[e.Blockout.GetId()]; ok {
			old = cur
			newer = cur.GetRevision() < e.Revision
		}
	}
	// A change to something the book does not hold, on a day it does not
	// hold, is only remembered (for adopt and for watchers).
	b.overLocked(e)
	b.recent = append(b.recent, applied{e, old})
	if len(b.recent) > b.keep {
		b.recent = slices.Delete(b.recent, 0, len(b.recent)-b.keep)
	}
	if newer {
		for w := range b.subs {
			if w.f.wants(e, old, b.loc) {
				w.push(e)
			}
		}
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// since returns the remembered events after rev, oldest first.
func (b *Book) since(rev int64) []Event {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []Event
	for _, r := range b.recent {
		if r.e.Revision > rev {
			out = append(out, r.e)
		}
	}
	return out
}

// putLocked stores an appointment and keeps the day index right.
func (b *Book) putLocked(a *molarv1.Appointment) {
	if old, ok := b.appts[a.GetId()]; ok {
		delete(b.byDay[b.dayOf(old)], old.GetId())
	}
	b.appts[a.GetId()] = a
	d := b.dayOf(a)
	if b.byDay[d] == nil {
		b.byDay[d] = map[string]struct{}{}
	}
	b.byDay[d][a.GetId()] = struct{}{}
}

func (b *Book) dayOf(a *molarv1.Appointment) string {
	return a.GetStartTime().AsTime().In(b.loc).Format(time.DateOnly)
}

func (b *Book) blockDay(x *molarv1.Blockout) string {
	return x.GetStartTime().AsTime().In(b.loc).Format(time.DateOnly)
}

// applied is an event with the state it replaced.
type applied struct {
	e   Event
	old proto.Message
}

// Filter selects part of the book: days (in the clinic's zone, inclusive)
// and optionally providers and chairs.
type Filter struct {
	From, To  string
	Providers []string
	Chairs    []string
}

func (f Filter) day(t time.Time, loc *time.Location) bool {
	d := t.In(loc).Format(time.DateOnly)
	return d >= f.From && d <= f.To
}

func (f Filter) appt(a *molarv1.Appointment, loc *time.Location) bool {
	return f.day(a.GetStartTime().AsTime(), loc) &&
		(len(f.Providers) == 0 || slices.Contains(f.Providers, a.GetProviderId())) &&
		(len(f.Chairs) == 0 || slices.Contains(f.Chairs, a.GetChairId()))
}

func (f Filter) block(x *molarv1.Blockout, loc *time.Location) bool {
	if !f.day(x.GetStartTime().AsTime(), loc) {
		return false
	}
	if len(f.Providers) == 0 && len(f.Chairs) == 0 {
		return true
	}
	return (x.GetProviderId() != "" && slices.Contains(f.Providers, x.GetProviderId())) ||
		(x.GetChairId() != "" && slices.Contains(f.Chairs, x.GetChairId()))
}

// wants reports whether a watcher with f must hear of e: the thing is in its
// range now, or was before (it moved out, and the watcher must drop it).
func (f Filter) wants(e Event, old proto.Message, loc *time.Location) bool {
	if e.Appointment != nil {
		o, _ := old.(*molarv1.Appointment)
		return f.appt(e.Appointment, loc) || (o != nil && f.appt(o, loc))
	}
	o, _ := old.(*molarv1.Blockout)
	return f.block(e.Blockout, loc) || (o != nil && f.block(o, loc))
}

// Snapshot returns what f selects, by start time, and the revision.
func (b *Book) Snapshot(f Filter) ([]*molarv1.Appointment, []*molarv1.Blockout, int64) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.snapshotLocked(f)
}

func (b *Book) snapshotLocked(f Filter) ([]*molarv1.Appointment, []*molarv1.Blockout, int64) {
	var as []*molarv1.Appointment
	from, err1 := time.ParseInLocation(time.DateOnly, f.From, b.loc)
	to, err2 := time.ParseInLocation(time.DateOnly, f.To, b.loc)
	if err1 == nil && err2 == nil {
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			for id := range b.byDay[d.Format(time.DateOnly)] {
				if a := b.appts[id]; f.appt(a, b.loc) {
					as = append(as, a)
				}
			}
		}
	}
	slices.SortFunc(as, func(x, y *molarv1.Appointment) int {
		return x.GetStartTime().AsTime().Compare(y.GetStartTime().AsTime())
	})
	var bs []*molarv1.Blockout
	for _, x := range b.blocks {
		if f.block(x, b.loc) {
			bs = append(bs, x)
		}
	}
	return as, bs, b.rev
}

// Get returns an appointment as the book has it.
func (b *Book) Get(id string) (*molarv1.Appointment, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a, ok := b.appts[id]
	return a, ok
}

// GetBlockout returns a blockout as the book has it.
func (b *Book) GetBlockout(id string) (*molarv1.Blockout, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	x, ok := b.blocks[id]
	return x, ok
}

// Each calls fn for every appointment (under the read lock: fn must not
// call back into the book).
func (b *Book) Each(fn func(*molarv1.Appointment)) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, a := range b.appts {
		fn(a)
	}
}

// Watcher receives the events its filter selects. Its buffer is bounded: a
// watcher that falls that far behind is told to start again from a
// snapshot, and never holds up the others.
type Watcher struct {
	f        Filter
	ch       chan Event
	overflow chan struct{}
	once     sync.Once
}

func (w *Watcher) push(e Event) {
	select {
	case w.ch <- e:
	default:
		w.once.Do(func() { close(w.overflow) })
	}
}

// Events delivers the watcher's events in order.
func (w *Watcher) Events() <-chan Event { return w.ch }

// Overflowed is closed when the watcher fell behind and lost events.
func (w *Watcher) Overflowed() <-chan struct{} { return w.overflow }

// Watch registers a watcher for f that has everything up to since. It
// returns the events since then, or, if the book no longer remembers that
// far back (or since is 0), a snapshot to start from. Nothing falls between
// what it returns and what the watcher then receives.
func (b *Book) Watch(f Filter, since int64, buffer int) (w *Watcher, replay []Event, snap *Snapshot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w = &Watcher{f: f, ch: make(chan Event, buffer), overflow: make(chan struct{})}
	b.subs[w] = struct{}{}
	oldest := b.rev + 1
	if len(b.recent) > 0 {
		oldest = b.recent[0].e.Revision
	}
	if since == 0 || since+1 < oldest || since > b.rev {
		as, bs, rev := b.snapshotLocked(f)
		return w, nil, &Snapshot{Appointments: as, Blockouts: bs, Revision: rev}
	}
	for _, r := range b.recent {
		if r.e.Revision > since && f.wants(r.e, r.old, b.loc) {
			replay = append(replay, r.e)
		}
	}
	return w, replay, nil
}

// Unwatch removes a watcher.
func (b *Book) Unwatch(w *Watcher) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, w)
}

// Watchers is the number of watchers registered.
func (b *Book) Watchers() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.subs)
}

// Snapshot is a whole range at a revision.
type Snapshot struct {
	Appointments []*molarv1.Appointment
	Blockouts    []*molarv1.Blockout
	Revision     int64
}
