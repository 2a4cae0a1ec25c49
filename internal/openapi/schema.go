package openapi

import (
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// schemaRef is the reference to the component schema name.
func schemaRef(name string) string { return "#/components/schemas/" + name }

// messageRef refers to md's schema, describing md (and what it refers to)
// the first time. Well-known types are described inline, as their JSON
// forms are not objects.
func (b *builder) messageRef(md protoreflect.MessageDescriptor) (*openapi3.SchemaRef, error) {
	if s := wellKnown(md.FullName()); s != nil {
		return &openapi3.SchemaRef{Value: s}, nil
	}
	name := string(md.FullName())
	ref := &openapi3.SchemaRef{Ref: schemaRef(name)}
	if _, ok := b.schemas[name]; ok {
		return ref, nil
	}
	// Claimed before its fields are described, so a message that refers to
	// itself ends there.
	s := &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeObject}, Properties: openapi3.Schemas{}}
	b.schemas[name] = &openapi3.SchemaRef{Value: s}
	desc := comment(md)
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		fs, required, err := b.fieldSchema(fd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fd.FullName(), err)
		}
		s.Properties[fd.JSONName()] = fs
		if required {
			s.Required = append(s.Required, fd.JSONName())
		}
	}
	for i := range md.Oneofs().Len() {
		o := md.Oneofs().Get(i)
		if o.IsSynthetic() {
			continue
		}
		desc = joinParagraphs(desc, oneofNote(o))
	}
	desc = joinParagraphs(desc, messageRules(md))
	s.Description = desc
	return ref, nil
}

// enumRef refers to ed's schema, describing it the first time: its value
// names (as proto3 JSON writes enums) with each value's comment.
func (b *builder) enumRef(ed protoreflect.EnumDescriptor) *openapi3.SchemaRef {
	if ed.FullName() == "google.protobuf.NullValue" {
		return &openapi3.SchemaRef{Value: &openapi3.Schema{Nullable: true, Description: "null"}}
	}
	name := string(ed.FullName())
	ref := &openapi3.SchemaRef{Ref: schemaRef(name)}
	if _, ok := b.schemas[name]; ok {
		return ref
	}
	s := &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}}
	var lines []string
	for i := range ed.Values().Len() {
		v := ed.Values().Get(i)
		s.Enum = append(s.Enum, string(v.Name()))
		line := "- `" + string(v.Name()) + "`"
		if c := comment(v); c != "" {
			line += ": " + strings.ReplaceAll(c, "\n", " ")
		}
		lines = append(lines, line)
	}
	s.Description = joinParagraphs(comment(ed), strings.Join(lines, "\n"))
	b.schemas[name] = &openapi3.SchemaRef{Value: s}
	return ref
}

// fieldSchema describes fd as it appears in its message's JSON, and says
// whether its rules require it.
func (b *builder) fieldSchema(fd protoreflect.FieldDescriptor) (*openapi3.SchemaRef, bool, error) {
	rules := fieldRules(fd)
	var s *openapi3.SchemaRef
	var err error
	switch {
	case fd.IsMap():
		var value *openapi3.SchemaRef
		value, err = b.singularSchema(fd.MapValue())
		if err != nil {
			return nil, false, err
		}
		if r := rules.GetMap().GetValues(); r != nil {
			value = constrain(value, r)
		}
		s = &openapi3.SchemaRef{Value: &openapi3.Schema{
			Type:                 &openapi3.Types{openapi3.TypeObject},
			AdditionalProperties: openapi3.AdditionalProperties{Schema: value},
		}}
	case fd.IsList():
		var item *openapi3.SchemaRef
		item, err = b.singularSchema(fd)
		if err != nil {
			return nil, false, err
		}
		if r := rules.GetRepeated().GetItems(); r != nil {
			item = constrain(item, r)
		}
		s = &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeArray}, Items: item}}
	default:
		s, err = b.singularSchema(fd)
		if err != nil {
			return nil, false, err
		}
	}
	if rules != nil {
		s = constrain(s, rules)
	}
	// A reference cannot carry a description of its own in OpenAPI 3.0:
	// wrap it.
	if s.Ref != "" {
		s = &openapi3.SchemaRef{Value: &openapi3.Schema{AllOf: openapi3.SchemaRefs{s}}}
	}
	desc := comment(fd)
	if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
		desc = joinParagraphs(desc, "Part of oneof `"+string(o.Name())+"`: at most one of its fields is set.")
	}
	s.Value.Description = joinParagraphs(desc, ruleText(rules, fd))
	return s, rules.GetRequired(), nil
}

// singularSchema describes one value of fd: of a list, its items; of a
// map entry's value field, that value.
func (b *builder) singularSchema(fd protoreflect.FieldDescriptor) (*openapi3.SchemaRef, error) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return b.messageRef(fd.Message())
	case protoreflect.EnumKind:
		return b.enumRef(fd.Enum()), nil
	}
	return &openapi3.SchemaRef{Value: scalar(fd.Kind())}, nil
}

// scalar is the proto3 JSON form of a scalar kind.
func scalar(k protoreflect.Kind) *openapi3.Schema {
	typed := func(t, format string) *openapi3.Schema {
		return &openapi3.Schema{Type: &openapi3.Types{t}, Format: format}
	}
	switch k {
	case protoreflect.BoolKind:
		return typed(openapi3.TypeBoolean, "")
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return typed(openapi3.TypeInteger, "int32")
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		s := typed(openapi3.TypeInteger, "int64")
		s.Min = ptr(0.0)
		s.Max = ptr(float64(1<<32 - 1))
		return s
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		s := typed(openapi3.TypeString, "int64")
		s.Pattern = `^-?[0-9]+$`
		return s
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		s := typed(openapi3.TypeString, "uint64")
		s.Pattern = `^[0-9]+$`
		return s
	case protoreflect.FloatKind:
		return typed(openapi3.TypeNumber, "float")
	case protoreflect.DoubleKind:
		return typed(openapi3.TypeNumber, "double")
	case protoreflect.BytesKind:
		return typed(openapi3.TypeString, "byte")
	default:
		return typed(openapi3.TypeString, "")
	}
}

// wellKnown is the JSON form of a google.protobuf type that has a special
// one, or nil.
func wellKnown(name protoreflect.FullName) *openapi3.Schema {
	str := func(format, desc string) *openapi3.Schema {
		return &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}, Format: format, Description: desc}
	}
	nullable := func(s *openapi3.Schema) *openapi3.Schema { s.Nullable = true; return s }
	switch name {
	case "google.protobuf.Timestamp":
		return str("date-time", "An instant in RFC 3339 form, UTC, e.g. 2026-03-02T09:30:00Z.")
	case "google.protobuf.Duration":
		s := str("", "A duration in seconds with the suffix s, e.g. 1.5s.")
		s.Pattern = `^-?[0-9]+(\.[0-9]{1,9})?s$`
		return s
	case "google.protobuf.FieldMask":
		return str("", "Field paths, lowerCamelCase, separated by commas.")
	case "google.protobuf.Empty":
		return &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeObject}}
	case "google.protobuf.Struct":
		return &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeObject}, AdditionalProperties: openapi3.AdditionalProperties{Has: ptr(true)}}
	case "google.protobuf.Value":
		return &openapi3.Schema{Description: "Any JSON value."}
	case "google.protobuf.ListValue":
		return &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeArray}, Items: &openapi3.SchemaRef{Value: &openapi3.Schema{}}}
	case "google.protobuf.Any":
		return &openapi3.Schema{
			Type:                 &openapi3.Types{openapi3.TypeObject},
			Description:          "A message of any type: its fields, and @type naming it.",
			Properties:           openapi3.Schemas{"@type": {Value: str("", "")}},
			AdditionalProperties: openapi3.AdditionalProperties{Has: ptr(true)},
		}
	case "google.protobuf.BoolValue":
		return nullable(scalar(protoreflect.BoolKind))
	case "google.protobuf.StringValue":
		return nullable(scalar(protoreflect.StringKind))
	case "google.protobuf.BytesValue":
		return nullable(scalar(protoreflect.BytesKind))
	case "google.protobuf.Int32Value":
		return nullable(scalar(protoreflect.Int32Kind))
	case "google.protobuf.UInt32Value":
		return nullable(scalar(protoreflect.Uint32Kind))
	case "google.protobuf.Int64Value":
		return nullable(scalar(protoreflect.Int64Kind))
	case "google.protobuf.UInt64Value":
		return nullable(scalar(protoreflect.Uint64Kind))
	case "google.protobuf.FloatValue":
		return nullable(scalar(protoreflect.FloatKind))
	case "google.protobuf.DoubleValue":
		return nullable(scalar(protoreflect.DoubleKind))
	}
	return nil
}

// oneofNote says that at most one field of o is set.
func oneofNote(o protoreflect.OneofDescriptor) string {
	var names []string
	for i := range o.Fields().Len() {
		names = append(names, "`"+o.Fields().Get(i).JSONName()+"`")
	}
	verb := "At most one of"
	if oneofRequired(o) {
		verb = "Exactly one of"
	}
	return verb + " " + strings.Join(names, ", ") + " is set (oneof `" + string(o.Name()) + "`)."
}

// comment is the leading comment of d, without the comment markers.
func comment(d protoreflect.Descriptor) string {
	loc := d.ParentFile().SourceLocations().ByDescriptor(d)
	lines := strings.Split(strings.TrimSpace(loc.LeadingComments), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, " "), " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// joinParagraphs joins the non-empty texts with a blank line.
func joinParagraphs(texts ...string) string {
	var out []string
	for _, t := range texts {
		if t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, "\n\n")
}
