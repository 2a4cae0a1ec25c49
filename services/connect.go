package services

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

var connectCodes = map[Code]connect.Code{
	Invalid:            connect.CodeInvalidArgument,
	NotFound:           connect.CodeNotFound,
	AlreadyExists:      connect.CodeAlreadyExists,
	Aborted:            connect.CodeAborted,
	FailedPrecondition: connect.CodeFailedPrecondition,
	Unauthenticated:    connect.CodeUnauthenticated,
	PermissionDenied:   connect.CodePermissionDenied,
	ResourceExhausted:  connect.CodeResourceExhausted,
	Unavailable:        connect.CodeUnavailable,
}

// ToConnect is the one place where errors become Connect errors. Domain errors
// keep their code, message and field violations (as buf.validate.Violations,
// the same detail the schema's validation produces). Connect errors pass
// through. Anything else is internal: it is logged with the request id and the
// client gets a generic message naming that id.
func ToConnect(ctx context.Context, logger *slog.Logger, procedure string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var de *Error
	if errors.As(err, &de) {
		if code, ok := connectCodes[de.Code]; ok {
			out := connect.NewError(code, errors.New(de.Message))
			if len(de.Violations) > 0 {
				if detail, derr := connect.NewErrorDetail(violationsProto(de.Violations)); derr == nil {
					out.AddDetail(detail)
				}
			}
			if de.Problem != nil {
				if detail, derr := connect.NewErrorDetail(de.Problem); derr == nil {
					out.AddDetail(detail)
				}
			}
			if de.RetryAfter > 0 {
				out.Meta().Set("Retry-After", strconv.Itoa(int(de.RetryAfter.Seconds()+0.999)))
			}
			return out
		}
	}
	if errors.Is(err, context.Canceled) {
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	}
	id := RequestID(ctx)
	logger.ErrorContext(ctx, "internal error", "procedure", procedure, "request_id", id, "error", err.Error())
	return connect.NewError(connect.CodeInternal, errors.New("internal error (request "+id+")"))
}

// violationsProto converts violations to the protovalidate detail message.
func violationsProto(vs []Violation) *validate.Violations {
	out := &validate.Violations{}
	for _, v := range vs {
		out.Violations = append(out.Violations, &validate.Violation{
			Field:   fieldPath(v.Field),
			RuleId:  proto.String(v.Rule),
			Message: proto.String(v.Message),
		})
	}
	return out
}

// fieldPath turns "a.b[2].c" into a protovalidate field path. Only names and
// list indexes are set: that is what clients need to place a message.
func fieldPath(path string) *validate.FieldPath {
	fp := &validate.FieldPath{}
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		el := &validate.FieldPathElement{FieldName: proto.String(name)}
		if rest != "" {
			if i, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64); err == nil {
				el.Subscript = &validate.FieldPathElement_Index{Index: i}
			}
		}
		fp.Elements = append(fp.Elements, el)
	}
	return fp
}
