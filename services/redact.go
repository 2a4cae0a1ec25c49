package services

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// RedactedValues returns the text of every field of m marked
// `debug_redact = true`, at any depth (for a marked message field, every
// string inside it), so that text built from the message elsewhere (an
// error, a panic) can have them removed. Empty strings are left out.
func RedactedValues(m proto.Message) []string {
	if m == nil {
		return nil
	}
	var out []string
	collectRedacted(m.ProtoReflect(), false, &out)
	return out
}

func collectRedacted(m protoreflect.Message, all bool, out *[]string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		take := all
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDebugRedact() {
			take = true
		}
		add := func(v protoreflect.Value) {
			switch {
			case fd.Message() != nil:
				collectRedacted(v.Message(), take, out)
			case take && fd.Kind() == protoreflect.StringKind && v.String() != "":
				*out = append(*out, v.String())
			}
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				add(l.Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if take && fd.MapKey().Kind() == protoreflect.StringKind && k.String() != "" {
					*out = append(*out, k.String())
				}
				if fd.MapValue().Message() != nil {
					collectRedacted(mv.Message(), take, out)
				} else if take && fd.MapValue().Kind() == protoreflect.StringKind && mv.String() != "" {
					*out = append(*out, mv.String())
				}
				return true
			})
		default:
			add(v)
		}
		return true
	})
}
