package images

import (
	"connectrpc.com/connect"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	xslog "golang.org/x/exp/slog"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
)

// UploadPath is where the resumable uploads (tus 1.0) are served.
const UploadPath = "/uploads/"

// MediaPath is where an image's bytes are served to holders of a link.
const MediaPath = "/media/"

// Authorizer checks a request's sign-in and permission, returning the
// context that carries who made it; the error is a services error.
type Authorizer func(r *http.Request) (context.Context, error)

// Uploads serves resumable uploads of images with tusd: partial uploads
// are kept under a directory until they complete. Every request but the
// protocol's OPTIONS must be signed in with the permission to change
// images. The metadata is checked when an upload is created; the content
// when it completes (Accept), and a refused file is deleted, so nothing is
// half-stored. The final PATCH answers with the header Molar-Image-Id, or
// with a JSON error the browser shows by rule.
//
// An upload whose last byte arrived but whose image was not saved (the
// process stopped, the database did not answer) stays complete on disk;
// FinishAbandoned makes its image later, as its uploader.
type Uploads struct {
	http.Handler
	svc      *Service
	dir      string
	store    filestore.FileStore
	composer *tusd.StoreComposer
	logger   *slog.Logger
}

// NewUploads returns the upload handler, keeping partial uploads in dir.
func NewUploads(svc *Service, authorize Authorizer, dir string, logger *slog.Logger) (*Uploads, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	u := &Uploads{svc: svc, dir: dir, store: filestore.New(dir), composer: tusd.NewStoreComposer(), logger: logger}
	u.store.UseIn(u.composer)
	h, err := tusd.NewHandler(tusd.Config{
		BasePath:      UploadPath,
		StoreComposer: u.composer,
		MaxSize:       svc.limits.MaxBytes,
		// tusd logs through golang.org/x/exp/slog: only its warnings and
		// errors are kept, as JSON, and they name uploads by id, never by
		// their metadata.
		Logger: xslog.New(xslog.NewJSONHandler(os.Stderr, &xslog.HandlerOptions{Level: xslog.LevelWarn})).With("component", "uploads"),
		// Uploads are never read back through tus, nor deleted by a client
		// other than by completing or abandoning them.
		DisableDownload: true,
		PreUploadCreateCallback: func(hook tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
			if _, err := svc.CheckUpload(hook.Context, hook.Upload.MetaData, hook.Upload.Size); err != nil {
				return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, uploadError(hook.Context, logger, err)
			}
			meta := hook.Upload.MetaData
			if p := services.PrincipalFrom(hook.Context); p != nil {
				meta["uploaded_by"], meta["uploaded_by_name"], meta["uploaded_by_email"] = p.StaffID, p.Name, p.Email
			}
			return tusd.HTTPResponse{}, tusd.FileInfoChanges{MetaData: meta}, nil
		},
		PreFinishResponseCallback: func(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
			if p := services.PrincipalFrom(hook.Context); p == nil || p.StaffID != hook.Upload.MetaData["uploaded_by"] {
				return tusd.HTTPResponse{}, uploadError(hook.Context, logger, services.Errorf(services.PermissionDenied, "the upload was started by someone else"))
			}
			img, err := u.finish(hook.Context, hook.Upload)
			if err != nil {
				return tusd.HTTPResponse{}, uploadError(hook.Context, logger, err)
			}
			return tusd.HTTPResponse{Header: tusd.HTTPHeader{"Molar-Image-Id": img.GetId(), "Access-Control-Expose-Headers": "Molar-Image-Id"}}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	u.Handler = http.StripPrefix(UploadPath, authorized(authorize, logger, h))
	return u, nil
}

// finish makes an image of a completed upload and deletes the upload once
// that is settled: the image saved, or the file refused for good. Any
// other failure keeps it for FinishAbandoned.
func (u *Uploads) finish(ctx context.Context, up tusd.FileInfo) (*molarv1.Image, error) {
	img, err := u.accept(ctx, up)
	switch services.ErrorCode(err) {
	case 0:
		if err != nil {
			return nil, err
		}
	case services.Invalid, services.NotFound, services.PermissionDenied:
	default:
		return nil, err
	}
	if term, terr := u.composer.Core.GetUpload(context.WithoutCancel(ctx), up.ID); terr == nil {
		if t := u.store.AsTerminatableUpload(term); t != nil {
			if terr := t.Terminate(context.WithoutCancel(ctx)); terr != nil {
				u.logger.Warn("finished upload not deleted", "upload_id", up.ID, "error", terr.Error())
			}
		}
	}
	return img, err
}

func (u *Uploads) accept(ctx context.Context, up tusd.FileInfo) (*molarv1.Image, error) {
	meta, err := u.svc.ParseMeta(up.MetaData)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(up.Storage["Path"])
	if err != nil {
		return nil, fmt.Errorf("images: open upload: %w", err)
	}
	defer f.Close()
	return u.svc.Accept(ctx, uploadImageID(up.ID), meta, f, up.Size)
}

// FinishAbandoned makes the images of uploads that completed before
// settledBefore but were never saved (their process stopped between the
// last byte and the save), as their uploaders, and deletes partial uploads
// untouched since staleBefore. It returns how many images it saved.
func (u *Uploads) FinishAbandoned(ctx context.Context, settledBefore, staleBefore time.Time) (int, error) {
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".info")
		if !ok {
			continue
		}
		up, err := u.composer.Core.GetUpload(ctx, id)
		if err != nil {
			continue
		}
		info, err := up.GetInfo(ctx)
		if err != nil {
			continue
		}
		st, err := os.Stat(info.Storage["Path"])
		if err != nil {
			continue
		}
		switch {
		case info.SizeIsDeferred || info.Offset < info.Size:
			if st.ModTime().Before(staleBefore) {
				if t := u.store.AsTerminatableUpload(up); t != nil {
					errs = append(errs, t.Terminate(ctx))
				}
			}
		case st.ModTime().Before(settledBefore):
			m := info.MetaData
			as := services.WithPrincipal(ctx, &services.Principal{StaffID: m["uploaded_by"], Name: m["uploaded_by_name"], Email: m["uploaded_by_email"]})
			if _, err := u.finish(as, info); err == nil {
				n++
			} else if services.ErrorCode(err) != services.Invalid {
				errs = append(errs, err)
			}
		}
	}
	return n, errors.Join(errs...)
}

// uploadImageID is the id of the image an upload becomes: the upload's id,
// which tusd makes random, kept to the characters of blob keys.
func uploadImageID(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return -1
	}, id)
}

// authorized lets through the protocol's discovery (OPTIONS) and requests
// that authorize accepts, carrying who made them.
func authorized(authorize Authorizer, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		ctx, err := authorize(r)
		if err != nil {
			writeError(r.Context(), logger, w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// errorBody is the JSON of an error a person can meet, shaped like a
// Connect error with the field violations beside it.
type errorBody struct {
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	Violations []violationBody `json:"violations,omitempty"`
}

type violationBody struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// httpStatus is the HTTP status of each Connect code an upload or a link
// can meet; tus clients do not retry a 4xx.
var httpStatus = map[connect.Code]int{
	connect.CodeInvalidArgument:    http.StatusUnprocessableEntity,
	connect.CodeNotFound:           http.StatusNotFound,
	connect.CodeAlreadyExists:      http.StatusConflict,
	connect.CodeFailedPrecondition: http.StatusUnprocessableEntity,
	connect.CodeUnauthenticated:    http.StatusUnauthorized,
	connect.CodePermissionDenied:   http.StatusForbidden,
	connect.CodeResourceExhausted:  http.StatusTooManyRequests,
	connect.CodeUnavailable:        http.StatusServiceUnavailable,
	connect.CodeCanceled:           499,
	connect.CodeDeadlineExceeded:   http.StatusGatewayTimeout,
}

// errorOf is err as the status and JSON body the browser reads: the code
// and message as services.ToConnect makes them (which logs an internal
// error with its request id), and the field violations beside them.
func errorOf(ctx context.Context, logger *slog.Logger, err error) (int, errorBody) {
	ce := new(connect.Error)
	if !errors.As(services.ToConnect(ctx, logger, "uploads", err), &ce) {
		return http.StatusInternalServerError, errorBody{Code: connect.CodeInternal.String(), Message: "internal error"}
	}
	status, ok := httpStatus[ce.Code()]
	if !ok {
		status = http.StatusInternalServerError
	}
	body := errorBody{Code: ce.Code().String(), Message: ce.Message()}
	var e *services.Error
	if errors.As(err, &e) {
		for _, v := range e.Violations {
			body.Violations = append(body.Violations, violationBody{Field: v.Field, Rule: v.Rule, Message: v.Message})
		}
	}
	if len(body.Violations) == 1 && body.Violations[0].Rule == RuleTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	return status, body
}

func writeError(ctx context.Context, logger *slog.Logger, w http.ResponseWriter, err error) {
	status, body := errorOf(ctx, logger, err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// uploadError is err as tusd sends it: the status and JSON body above.
func uploadError(ctx context.Context, logger *slog.Logger, err error) error {
	status, body := errorOf(ctx, logger, err)
	b, _ := json.Marshal(body)
	return tusd.Error{ErrorCode: body.Code, Message: body.Message, HTTPResponse: tusd.HTTPResponse{
		StatusCode: status, Body: string(b), Header: tusd.HTTPHeader{"Content-Type": "application/json"},
	}}
}

// MediaHandler serves an image's bytes to the holder of a link that
// GetImage or ListImages gave out: /media/{id}/{rendition}?u=&t=. Links
// expire within minutes and are bound to the image, the rendition and the
// user they were given to; the giving was recorded in the audit trail.
func MediaHandler(svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		id, rendition, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, MediaPath), "/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		body, media, img, err := svc.Open(r.Context(), id, rendition, q.Get("u"), q.Get("t"))
		if err != nil {
			writeError(r.Context(), svc.logger, w, err)
			return
		}
		defer body.Close()
		h := w.Header()
		h.Set("Content-Type", media)
		h.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(LinkTTL/time.Second)))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		h.Set("ETag", strconv.Quote(img.GetSha256()+"-"+rendition))
		if rendition == RenditionOriginal && media == string(DICOM) {
			h.Set("Content-Disposition", "attachment")
		}
		http.ServeContent(w, r, "", img.GetUploadTime().AsTime(), body)
	})
}
