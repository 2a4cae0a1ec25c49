package services_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	_ "github.com/molar-dental/molar/gen/molar/v1" // the schema, for TestMaskSchemaFields
	"github.com/molar-dental/molar/services"
)

// These tests build a message at run time, so that every shape a sensitive
// field can take (nested, repeated, in a map, a whole message) is covered
// whatever the schema holds:
//
//	message Secretive {
//	  string password = 1 [debug_redact = true];
//	  string name = 2;
//	  repeated Inner items = 3;
//	  Inner one = 4;
//	  map<string, Inner> by_key = 5;
//	  repeated string pins = 6 [debug_redact = true];
//	  Inner hidden = 7 [debug_redact = true];
//	}
//	message Inner {
//	  string token = 1 [debug_redact = true];
//	  string note = 2;
//	  int64 pin = 3 [debug_redact = true];
//	  Inner child = 4;
//	}
type secretive struct {
	outer, inner protoreflect.MessageDescriptor
}

func newSecretive(t *testing.T) secretive {
	t.Helper()
	redact := func() *descriptorpb.FieldOptions {
		return &descriptorpb.FieldOptions{DebugRedact: proto.Bool(true)}
	}
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, typeName string, opts *descriptorpb.FieldOptions) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{
			Name:     proto.String(name),
			JsonName: proto.String(jsonName(name)),
			Number:   proto.Int32(num),
			Type:     typ.Enum(),
			Label:    label.Enum(),
			Options:  opts,
		}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	const (
		str      = descriptorpb.FieldDescriptorProto_TYPE_STRING
		i64      = descriptorpb.FieldDescriptorProto_TYPE_INT64
		msg      = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
		optional = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		repeated = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	)
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("masktest/secretive.proto"),
		Package: proto.String("masktest"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("Secretive"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("password", 1, str, optional, "", redact()),
					field("name", 2, str, optional, "", nil),
					field("items", 3, msg, repeated, ".masktest.Inner", nil),
					field("one", 4, msg, optional, ".masktest.Inner", nil),
					field("by_key", 5, msg, repeated, ".masktest.Secretive.ByKeyEntry", nil),
					field("pins", 6, str, repeated, "", redact()),
					field("hidden", 7, msg, optional, ".masktest.Inner", redact()),
				},
				NestedType: []*descriptorpb.DescriptorProto{{
					Name: proto.String("ByKeyEntry"),
					Field: []*descriptorpb.FieldDescriptorProto{
						field("key", 1, str, optional, "", nil),
						field("value", 2, msg, optional, ".masktest.Inner", nil),
					},
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				}},
			},
			{
				Name: proto.String("Inner"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("token", 1, str, optional, "", redact()),
					field("note", 2, str, optional, "", nil),
					field("pin", 3, i64, optional, "", redact()),
					field("child", 4, msg, optional, ".masktest.Inner", nil),
				},
			},
		},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatalf("build descriptor: %v", err)
	}
	return secretive{
		outer: fd.Messages().ByName("Secretive"),
		inner: fd.Messages().ByName("Inner"),
	}
}

func jsonName(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// The secrets planted in sample, one per redacted field and depth.
var secrets = []string{
	"hunter2-top",
	"tok-item-0", "tok-item-1", "tok-grandchild",
	"tok-one", "tok-map",
	"pin-a", "pin-b",
	"tok-hidden",
}

// sample fills every field, with a secret in every redacted one.
func (s secretive) sample() *dynamicpb.Message {
	inner := func(token, note string, pin int64) *dynamicpb.Message {
		m := dynamicpb.NewMessage(s.inner)
		m.Set(s.inner.Fields().ByName("token"), protoreflect.ValueOfString(token))
		m.Set(s.inner.Fields().ByName("note"), protoreflect.ValueOfString(note))
		m.Set(s.inner.Fields().ByName("pin"), protoreflect.ValueOfInt64(pin))
		return m
	}
	m := dynamicpb.NewMessage(s.outer)
	f := s.outer.Fields()
	m.Set(f.ByName("password"), protoreflect.ValueOfString("hunter2-top"))
	m.Set(f.ByName("name"), protoreflect.ValueOfString("visible-name"))

	items := m.Mutable(f.ByName("items")).List()
	items.Append(protoreflect.ValueOfMessage(inner("tok-item-0", "note-0", 1111)))
	second := inner("tok-item-1", "note-1", 2222)
	second.Set(s.inner.Fields().ByName("child"), protoreflect.ValueOfMessage(inner("tok-grandchild", "note-grandchild", 3333)))
	items.Append(protoreflect.ValueOfMessage(second))

	m.Set(f.ByName("one"), protoreflect.ValueOfMessage(inner("tok-one", "note-one", 4444)))
	m.Mutable(f.ByName("by_key")).Map().Set(protoreflect.ValueOfString("k").MapKey(),
		protoreflect.ValueOfMessage(inner("tok-map", "note-map", 5555)))
	pins := m.Mutable(f.ByName("pins")).List()
	pins.Append(protoreflect.ValueOfString("pin-a"))
	pins.Append(protoreflect.ValueOfString("pin-b"))
	m.Set(f.ByName("hidden"), protoreflect.ValueOfMessage(inner("tok-hidden", "note-hidden", 6666)))
	return m
}

func TestMaskRedactsAtEveryDepth(t *testing.T) {
	t.Parallel()
	s := newSecretive(t)
	orig := s.sample()
	before := proto.Clone(orig)

	masked := services.Mask(orig).ProtoReflect()

	if !proto.Equal(orig, before) {
		t.Fatal("Mask changed its argument; it must work on a copy")
	}
	f := s.outer.Fields()
	inF := s.inner.Fields()
	checkInner := func(where string, m protoreflect.Message, note string) {
		t.Helper()
		if got := m.Get(inF.ByName("token")).String(); got != services.Redacted {
			t.Errorf("%s.token = %q, want %q", where, got, services.Redacted)
		}
		if m.Has(inF.ByName("pin")) {
			t.Errorf("%s.pin = %d, want cleared", where, m.Get(inF.ByName("pin")).Int())
		}
		if got := m.Get(inF.ByName("note")).String(); got != note {
			t.Errorf("%s.note = %q, want %q (not sensitive, must stay)", where, got, note)
		}
	}

	if got := masked.Get(f.ByName("password")).String(); got != services.Redacted {
		t.Errorf("password = %q, want %q", got, services.Redacted)
	}
	if got := masked.Get(f.ByName("name")).String(); got != "visible-name" {
		t.Errorf("name = %q, want it unchanged", got)
	}
	items := masked.Get(f.ByName("items")).List()
	if items.Len() != 2 {
		t.Fatalf("items has %d elements, want 2", items.Len())
	}
	checkInner("items[0]", items.Get(0).Message(), "note-0")
	checkInner("items[1]", items.Get(1).Message(), "note-1")
	checkInner("items[1].child", items.Get(1).Message().Get(inF.ByName("child")).Message(), "note-grandchild")
	checkInner("one", masked.Get(f.ByName("one")).Message(), "note-one")
	byKey := masked.Get(f.ByName("by_key")).Map()
	checkInner(`by_key["k"]`, byKey.Get(protoreflect.ValueOfString("k").MapKey()).Message(), "note-map")
	if masked.Has(f.ByName("pins")) {
		t.Errorf("pins (a redacted repeated string) = %v, want cleared", masked.Get(f.ByName("pins")).List())
	}
	if masked.Has(f.ByName("hidden")) {
		t.Error("hidden (a redacted message) is still set, want cleared")
	}

	b, err := proto.Marshal(masked.Interface())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secrets {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("masked message still contains %q", secret)
		}
	}
}

func TestMaskLeavesUnmarkedMessagesAlone(t *testing.T) {
	t.Parallel()
	s := newSecretive(t)
	m := dynamicpb.NewMessage(s.inner)
	m.Set(s.inner.Fields().ByName("note"), protoreflect.ValueOfString("just a note"))
	if got := services.Mask(m); !proto.Equal(got, m) {
		t.Errorf("Mask changed a message without sensitive values: %v", got)
	}
}

// syncBuffer is a bytes.Buffer that handlers may write to from any goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMaskingHandlerNeverWritesSecrets(t *testing.T) {
	t.Parallel()
	s := newSecretive(t)

	cases := []struct {
		name string
		log  func(l *slog.Logger, m proto.Message)
	}{
		{"attribute", func(l *slog.Logger, m proto.Message) {
			l.Info("saved", "record", m)
		}},
		{"slog.Any", func(l *slog.Logger, m proto.Message) {
			l.LogAttrs(context.Background(), slog.LevelWarn, "saved", slog.Any("record", m))
		}},
		{"logger.With", func(l *slog.Logger, m proto.Message) {
			l.With("record", m).Info("saved")
		}},
		{"group attribute", func(l *slog.Logger, m proto.Message) {
			l.Info("saved", slog.Group("req", slog.Any("record", m), slog.String("k", "v")))
		}},
		{"nested group attribute", func(l *slog.Logger, m proto.Message) {
			l.Info("saved", slog.Group("a", slog.Group("b", slog.Any("record", m))))
		}},
		{"WithGroup then With", func(l *slog.Logger, m proto.Message) {
			l.WithGroup("req").With("record", m).Info("saved")
		}},
		{"logger.With a group", func(l *slog.Logger, m proto.Message) {
			l.With(slog.Group("req", slog.Any("record", m))).Error("failed")
		}},
		{"LogValuer", func(l *slog.Logger, m proto.Message) {
			l.Info("saved", "record", messageValuer{m})
		}},
		{"LogValuer in a group, via With", func(l *slog.Logger, m proto.Message) {
			l.With(slog.Group("req", slog.Any("record", messageValuer{m}))).Info("saved")
		}},
		{"LogValuer of a LogValuer", func(l *slog.Logger, m proto.Message) {
			l.Info("saved", "record", outerValuer{messageValuer{m}})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			buf := newSyncBuffer()
			logger := slog.New(services.NewMaskingHandler(slog.NewJSONHandler(buf, nil)))
			tc.log(logger, s.sample())

			out := buf.String()
			for _, secret := range secrets {
				if strings.Contains(out, secret) {
					t.Errorf("log line contains secret %q:\n%s", secret, out)
				}
			}
			// The message is still logged, as JSON, with what is not secret.
			for _, visible := range []string{"visible-name", "note-0", "note-grandchild", "note-map", services.Redacted} {
				if !strings.Contains(out, visible) {
					t.Errorf("log line lacks %q:\n%s", visible, out)
				}
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(out), &line); err != nil {
				t.Fatalf("not one JSON line: %v\n%s", err, out)
			}
		})
	}
}

// messageValuer logs as the message it holds, as a domain type might.
type messageValuer struct{ m proto.Message }

func (v messageValuer) LogValue() slog.Value { return slog.AnyValue(v.m) }

// outerValuer logs as another LogValuer.
type outerValuer struct{ inner slog.LogValuer }

func (v outerValuer) LogValue() slog.Value { return slog.AnyValue(v.inner) }

func TestMaskingHandlerKeepsOtherAttributes(t *testing.T) {
	t.Parallel()
	buf := newSyncBuffer()
	logger := slog.New(services.NewMaskingHandler(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	logger.Debug("dropped")
	logger.With("svc", "clinic").Info("hello", "n", 3, "ok", true)

	var line map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &line); err != nil {
		t.Fatalf("want exactly one JSON line (debug is below the level): %v\n%s", err, buf.String())
	}
	want := map[string]any{"msg": "hello", "svc": "clinic", "n": float64(3), "ok": true, "level": "INFO"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
}

// TestMaskSchemaFields plants a secret in every field the molar.v1 schema
// marks debug_redact, in every message, and checks that neither Mask nor the
// masking logger lets one through.
func TestMaskSchemaFields(t *testing.T) {
	t.Parallel()
	checked := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("molar.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Messages().Len(); i++ {
			md := fd.Messages().Get(i)
			mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
			if err != nil {
				t.Errorf("%s: %v", md.FullName(), err)
				continue
			}
			m := mt.New()
			var planted []protoreflect.FieldDescriptor
			for j := 0; j < md.Fields().Len(); j++ {
				f := md.Fields().Get(j)
				opts, _ := f.Options().(*descriptorpb.FieldOptions)
				if !opts.GetDebugRedact() || f.Kind() != protoreflect.StringKind || f.IsList() || f.IsMap() {
					continue
				}
				m.Set(f, protoreflect.ValueOfString("SECRET-"+string(f.FullName())))
				planted = append(planted, f)
			}
			if len(planted) == 0 {
				continue
			}
			checked += len(planted)
			masked := services.Mask(m.Interface()).ProtoReflect()
			for _, f := range planted {
				if got := masked.Get(f).String(); got != services.Redacted {
					t.Errorf("Mask left %s = %q", f.FullName(), got)
				}
			}
			buf := newSyncBuffer()
			slog.New(services.NewMaskingHandler(slog.NewJSONHandler(buf, nil))).Info("request", "msg", m.Interface())
			if strings.Contains(buf.String(), "SECRET-") {
				t.Errorf("logging %s leaked a secret: %s", md.FullName(), buf.String())
			}
		}
		return true
	})
	if checked == 0 {
		t.Fatal("no debug_redact string field found in molar.v1; is the generated package linked in?")
	}
}

// TestMaskingHandlerScrubsErrorText logs errors that quote what they were
// given, as a driver's duplicate-key complaint does: the registration
// number, phone, e-mail and Korean name are not written; the rest of the
// text and other attributes are.
func TestMaskingHandlerScrubsErrorText(t *testing.T) {
	t.Parallel()
	buf := newSyncBuffer()
	logger := slog.New(services.NewMaskingHandler(slog.NewJSONHandler(buf, nil)))
	quoted := `E11000 duplicate key: { rrn: "800101-1234567", phone: "010-1234-5678", email: "kim@clinic.kr", name: "김민수" }`
	logger.Error("internal error", "error", quoted, "procedure", "/molar.v1.PatientService/CreatePatient")
	logger.Error("internal error", "error", errors.New(quoted))
	out := buf.String()
	for _, secret := range []string{"800101", "1234567", "010-1234-5678", "kim@clinic.kr", "김민수"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"E11000 duplicate key", "[rrn]", "[phone]", "[email]", "[text]", "/molar.v1.PatientService/CreatePatient"} {
		if strings.Count(out, kept) < 1 {
			t.Errorf("the log lost %q:\n%s", kept, out)
		}
	}
}
