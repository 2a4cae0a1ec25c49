package mongo

import (
	"context"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
)

// CommitOnly commits img as Save does and stops there, as a process that
// died right after the commit: the derived documents are left for recovery.
func (r *ImageRepo) CommitOnly(ctx context.Context, img *molarv1.Image, ev audit.Event) error {
	_, err := r.commit(ctx, img, ev)
	return err
}
