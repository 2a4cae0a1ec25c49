package images

import (
	"context"
	"fmt"
	"sync"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// hub hands the changes of a patient's images to the streams watching
// them in this process. A watcher that falls behind loses nothing but
// intermediate states: it is sent the patient's images again.
type hub struct {
	mu       sync.Mutex
	watchers map[string]map[chan struct{}]struct{}
}

func newHub() *hub { return &hub{watchers: map[string]map[chan struct{}]struct{}{}} }

func (h *hub) subscribe(patientID string) (chan struct{}, func()) {
	c := make(chan struct{}, 1)
	h.mu.Lock()
	if h.watchers[patientID] == nil {
		h.watchers[patientID] = map[chan struct{}]struct{}{}
	}
	h.watchers[patientID][c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.watchers[patientID], c)
		if len(h.watchers[patientID]) == 0 {
			delete(h.watchers, patientID)
		}
		h.mu.Unlock()
	}
}

func (h *hub) poke(patientID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.watchers[patientID] {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Refresh tells the streams watching these patients that their images
// changed (here, or in another process: the change log brings those).
func (s *Service) Refresh(_ context.Context, patientIDs []string) {
	for _, id := range patientIDs {
		s.hub.poke(id)
	}
}

// Watch sends nil once it is watching, then each image of the patient that
// changes, as it is now, until ctx ends. Each watcher compares what it sent
// with what is stored, so it sends only what changed.
func (s *Service) Watch(ctx context.Context, patientID string, send func(*molarv1.Image) error) error {
	if err := s.patients.Exists(ctx, patientID); err != nil {
		return err
	}
	poked, stop := s.hub.subscribe(patientID)
	defer stop()
	sent := map[string]string{}
	seen := func(img *molarv1.Image) string {
		return fmt.Sprintf("%d/%d", img.GetThumbnailStatus(), img.GetVersion())
	}
	all, err := s.store.List(ctx, patientID)
	if err != nil {
		return err
	}
	for _, img := range all {
		sent[img.GetId()] = seen(img)
	}
	// Open: the caller may list now and miss nothing after.
	if err := send(nil); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poked:
		}
		all, err := s.store.List(ctx, patientID)
		if err != nil {
			return err
		}
		for _, img := range all {
			if sent[img.GetId()] == seen(img) {
				continue
			}
			if err := send(s.withGrid(ctx, img)); err != nil {
				return err
			}
			sent[img.GetId()] = seen(img)
		}
	}
}
