package services

import (
	"context"
	"log/slog"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Redacted replaces the value of every field marked `debug_redact = true`.
const Redacted = "[REDACTED]"

// MaskingHandler is a slog.Handler that masks sensitive protobuf fields
// wherever a message is logged: any attribute whose value is a proto.Message
// is written as JSON with every `debug_redact` field replaced. An "error"
// attribute's text is written without what is shaped like personal data
// (see ScrubText).
type MaskingHandler struct {
	next slog.Handler
}

// NewMaskingHandler wraps next.
func NewMaskingHandler(next slog.Handler) *MaskingHandler { return &MaskingHandler{next: next} }

// Enabled implements slog.Handler.
func (h *MaskingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *MaskingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *MaskingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = maskAttr(a)
	}
	return &MaskingHandler{next: h.next.WithAttrs(masked)}
}

// WithGroup implements slog.Handler.
func (h *MaskingHandler) WithGroup(name string) slog.Handler {
	return &MaskingHandler{next: h.next.WithGroup(name)}
}

func maskAttr(a slog.Attr) slog.Attr {
	// A LogValuer may stand for a message: resolve it here, or the next
	// handler would resolve it after masking and write the message as is.
	a.Value = a.Value.Resolve()
	switch a.Value.Kind() {
	case slog.KindGroup:
		group := a.Value.Group()
		masked := make([]slog.Attr, len(group))
		for i, g := range group {
			masked[i] = maskAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(masked...)}
	case slog.KindAny:
		if m, ok := a.Value.Any().(proto.Message); ok {
			return slog.Any(a.Key, maskedJSON(m))
		}
		if err, ok := a.Value.Any().(error); ok && a.Key == "error" {
			return slog.String(a.Key, ScrubText(err.Error()))
		}
	case slog.KindString:
		// An error's text may quote what it was given (a duplicate key,
		// a value that did not parse).
		if a.Key == "error" {
			return slog.String(a.Key, ScrubText(a.Value.String()))
		}
	}
	return a
}

// maskedJSON renders m as a JSON value with its sensitive fields redacted.
func maskedJSON(m proto.Message) any {
	b, err := protojson.Marshal(Mask(m))
	if err != nil {
		return Redacted
	}
	return rawJSON(b)
}

// rawJSON is already-encoded JSON that slog's JSON handler embeds as is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// Mask returns a copy of m in which every field marked `debug_redact = true`,
// at any depth, is replaced: strings by Redacted, other values cleared.
func Mask(m proto.Message) proto.Message {
	c := proto.Clone(m)
	maskMessage(c.ProtoReflect())
	return c
}

func maskMessage(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDebugRedact() {
			if fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() {
				m.Set(fd, protoreflect.ValueOfString(Redacted))
			} else {
				m.Clear(fd)
			}
			return true
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				maskMessage(l.Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				maskMessage(mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			maskMessage(v.Message())
		}
		return true
	})
}
