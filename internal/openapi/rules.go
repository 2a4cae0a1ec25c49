package openapi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// fieldRules are fd's protovalidate rules, or nil.
func fieldRules(fd protoreflect.FieldDescriptor) *validate.FieldRules {
	r, _ := extension(fd.Options(), validate.E_Field, protoregistry.GlobalTypes).(*validate.FieldRules)
	return r
}

// oneofRequired reports whether o's rules require one of its fields.
func oneofRequired(o protoreflect.OneofDescriptor) bool {
	r, _ := extension(o.Options(), validate.E_Oneof, protoregistry.GlobalTypes).(*validate.OneofRules)
	return r.GetRequired()
}

// extension reads the extension xt of opts, nil when unset. The options
// are parsed again with resolver, which knows xt: options parsed before xt
// was known keep it among their unknown fields, and options from another
// registry hold it as another type.
func extension(opts proto.Message, xt protoreflect.ExtensionType, resolver interface {
	protoregistry.ExtensionTypeResolver
	protoregistry.MessageTypeResolver
}) any {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil
	}
	// The extension's own descriptor of the options message: HasExtension
	// compares descriptors, not names.
	container := xt.TypeDescriptor().ContainingMessage()
	if container.FullName() != opts.ProtoReflect().Descriptor().FullName() {
		return nil
	}
	raw, err := proto.Marshal(opts)
	if err != nil {
		return nil
	}
	fresh := dynamicpb.NewMessage(container)
	if err := (proto.UnmarshalOptions{Resolver: resolver}).Unmarshal(raw, fresh); err != nil {
		return nil
	}
	if !proto.HasExtension(fresh, xt) {
		return nil
	}
	return proto.GetExtension(fresh, xt)
}

// constrain adds to s the rules r that JSON Schema can say; ruleText says
// them all in words.
func constrain(s *openapi3.SchemaRef, r *validate.FieldRules) *openapi3.SchemaRef {
	if s.Ref != "" {
		// A message or an enum: no rule of theirs is a JSON Schema keyword.
		return s
	}
	v := s.Value
	if str := r.GetString(); str != nil {
		if str.HasLen() {
			v.MinLength, v.MaxLength = str.GetLen(), ptr(str.GetLen())
		}
		if str.HasMinLen() {
			v.MinLength = str.GetMinLen()
		}
		if str.HasMaxLen() {
			v.MaxLength = ptr(str.GetMaxLen())
		}
		if str.HasPattern() {
			v.Pattern = str.GetPattern()
		}
		switch {
		case str.GetEmail():
			v.Format = "email"
		case str.GetUuid():
			v.Format = "uuid"
		case str.GetUri():
			v.Format = "uri"
		case str.GetHostname():
			v.Format = "hostname"
		case str.GetIpv4():
			v.Format = "ipv4"
		case str.GetIpv6():
			v.Format = "ipv6"
		}
		for _, in := range str.GetIn() {
			v.Enum = append(v.Enum, in)
		}
		if str.HasConst() {
			v.Enum = []any{str.GetConst()}
		}
	}
	if rep := r.GetRepeated(); rep != nil {
		if rep.HasMinItems() {
			v.MinItems = rep.GetMinItems()
		}
		if rep.HasMaxItems() {
			v.MaxItems = ptr(rep.GetMaxItems())
		}
		v.UniqueItems = rep.GetUnique()
	}
	if m := r.GetMap(); m != nil {
		if m.HasMinPairs() {
			v.MinProps = m.GetMinPairs()
		}
		if m.HasMaxPairs() {
			v.MaxProps = ptr(m.GetMaxPairs())
		}
	}
	// Numbers whose JSON is a number (not the 64-bit integers, which are
	// strings) take bounds.
	if nr := numericRules(r); nr != nil && v.Type != nil && (v.Type.Is(openapi3.TypeInteger) || v.Type.Is(openapi3.TypeNumber)) {
		bounds(v, nr)
	}
	return s
}

// numericRules are r's rules of a number kind, or nil.
func numericRules(r *validate.FieldRules) protoreflect.Message {
	for _, m := range []proto.Message{r.GetInt32(), r.GetUint32(), r.GetSint32(), r.GetFixed32(), r.GetSfixed32(), r.GetFloat(), r.GetDouble()} {
		if m != nil && m.ProtoReflect().IsValid() {
			return m.ProtoReflect()
		}
	}
	return nil
}

// bounds sets the minimum, maximum and allowed values of v from the
// numeric rules m (Int32Rules and its kin share these field names).
func bounds(v *openapi3.Schema, m protoreflect.Message) {
	num := func(name protoreflect.Name) (float64, bool) {
		fd := m.Descriptor().Fields().ByName(name)
		if fd == nil || !m.Has(fd) {
			return 0, false
		}
		return toFloat(m.Get(fd)), true
	}
	if x, ok := num("gte"); ok {
		v.Min = ptr(x)
	}
	if x, ok := num("gt"); ok {
		v.Min, v.ExclusiveMin = ptr(x), openapi3.ExclusiveBound{Bool: ptr(true)}
	}
	if x, ok := num("lte"); ok {
		v.Max = ptr(x)
	}
	if x, ok := num("lt"); ok {
		v.Max, v.ExclusiveMax = ptr(x), openapi3.ExclusiveBound{Bool: ptr(true)}
	}
	if x, ok := num("const"); ok {
		v.Enum = []any{x}
	}
	if fd := m.Descriptor().Fields().ByName("in"); fd != nil {
		list := m.Get(fd).List()
		for i := range list.Len() {
			v.Enum = append(v.Enum, toFloat(list.Get(i)))
		}
	}
}

func toFloat(v protoreflect.Value) float64 {
	switch x := v.Interface().(type) {
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// ruleText lists every rule of r, one line each: "string.max_len: 50", or
// a CEL rule's id and message.
func ruleText(r *validate.FieldRules, fd protoreflect.FieldDescriptor) string {
	if r == nil {
		return ""
	}
	enum := fd.Enum()
	if fd.IsMap() {
		enum = fd.MapValue().Enum()
	}
	var lines []string
	ruleLines("", r.ProtoReflect(), enum, &lines)
	if len(lines) == 0 {
		return ""
	}
	return "Rules:\n" + strings.Join(lines, "\n")
}

// ruleLines appends a line per rule set in m, naming each by its path
// under prefix. Values of enum rules are named from enum, the field's.
func ruleLines(prefix string, m protoreflect.Message, enum protoreflect.EnumDescriptor, lines *[]string) {
	var set []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		set = append(set, fd)
		return true
	})
	slices.SortFunc(set, func(a, b protoreflect.FieldDescriptor) int { return cmp.Compare(a.Number(), b.Number()) })
	for _, fd := range set {
		v := m.Get(fd)
		name := prefix + string(fd.Name())
		switch {
		case fd.Name() == "cel" && fd.IsList():
			for i := range v.List().Len() {
				*lines = append(*lines, celLine(v.List().Get(i).Message().Interface()))
			}
		case fd.Name() == "ignore" && fd.Kind() == protoreflect.EnumKind:
			*lines = append(*lines, "- "+ignoreLine(validate.Ignore(v.Enum())))
		case fd.Kind() == protoreflect.MessageKind && !fd.IsList():
			ruleLines(name+".", v.Message(), enum, lines)
		case enum != nil && strings.HasSuffix(prefix, "enum.") && fd.Kind() == protoreflect.Int32Kind:
			*lines = append(*lines, "- `"+name+"`: "+enumText(enum, fd, v))
		default:
			*lines = append(*lines, "- `"+name+"`: "+valueText(fd, v))
		}
	}
}

// celLine says a CEL rule by its message, or its expression if it has none.
func celLine(m proto.Message) string {
	r, ok := m.(*validate.Rule)
	if !ok {
		return "- " + fmt.Sprint(m)
	}
	text := r.GetMessage()
	if text == "" {
		text = "`" + r.GetExpression() + "`"
	}
	if r.GetId() == "" {
		return "- " + text
	}
	return "- `" + r.GetId() + "`: " + text
}

// ignoreLine says when a field's rules are skipped.
func ignoreLine(i validate.Ignore) string {
	switch i {
	case validate.Ignore_IGNORE_IF_ZERO_VALUE:
		return "may be left empty; the rules apply when it is set"
	case validate.Ignore_IGNORE_ALWAYS:
		return "not checked"
	}
	return "`ignore`: " + i.String()
}

// valueText writes a rule's value: lists in brackets, enums by name,
// strings in backquotes.
func valueText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	one := func(x protoreflect.Value) string {
		switch fd.Kind() {
		case protoreflect.EnumKind:
			if ev := fd.Enum().Values().ByNumber(x.Enum()); ev != nil {
				return string(ev.Name())
			}
			return fmt.Sprint(x.Enum())
		case protoreflect.StringKind:
			return "`" + x.String() + "`"
		case protoreflect.MessageKind:
			return fmt.Sprint(x.Message().Interface())
		}
		return fmt.Sprint(x.Interface())
	}
	if fd.IsList() {
		var parts []string
		for i := range v.List().Len() {
			parts = append(parts, one(v.List().Get(i)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return one(v)
}

// enumText writes the numbers of an enum rule (in, not_in, const) as the
// names of enum's values.
func enumText(enum protoreflect.EnumDescriptor, fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	name := func(x protoreflect.Value) string {
		if ev := enum.Values().ByNumber(protoreflect.EnumNumber(x.Int())); ev != nil {
			return "`" + string(ev.Name()) + "`"
		}
		return fmt.Sprint(x.Int())
	}
	if !fd.IsList() {
		return name(v)
	}
	var parts []string
	for i := range v.List().Len() {
		parts = append(parts, name(v.List().Get(i)))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// messageRules describes md's message-wide rules: CEL rules and oneof
// rules across its fields.
func messageRules(md protoreflect.MessageDescriptor) string {
	r, _ := extension(md.Options(), validate.E_Message, protoregistry.GlobalTypes).(*validate.MessageRules)
	if r == nil {
		return ""
	}
	var lines []string
	for _, o := range r.GetOneof() {
		var names []string
		for _, f := range o.GetFields() {
			if fd := md.Fields().ByName(protoreflect.Name(f)); fd != nil {
				f = fd.JSONName()
			}
			names = append(names, "`"+f+"`")
		}
		verb := "At most one of"
		if o.GetRequired() {
			verb = "Exactly one of"
		}
		lines = append(lines, "- "+verb+" "+strings.Join(names, ", ")+" is set.")
	}
	for _, c := range r.GetCel() {
		lines = append(lines, celLine(c))
	}
	for _, e := range r.GetCelExpression() {
		lines = append(lines, "- `"+e+"`")
	}
	if len(lines) == 0 {
		return ""
	}
	return "Rules:\n" + strings.Join(lines, "\n")
}
