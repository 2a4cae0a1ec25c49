package openapi_test

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/internal/openapi"
)

// molarFiles are molar.v1's files as compiled into gen/ (which keeps
// options, not comments).
func molarFiles() []protoreflect.FileDescriptor {
	var files []protoreflect.FileDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage("molar.v1", func(f protoreflect.FileDescriptor) bool {
		files = append(files, f)
		return true
	})
	slices.SortFunc(files, func(a, b protoreflect.FileDescriptor) int { return cmp.Compare(a.Path(), b.Path()) })
	return files
}

func schemaFiles(t *testing.T) []protoreflect.FileDescriptor {
	t.Helper()
	files := molarFiles()
	if len(files) == 0 {
		t.Fatal("no molar.v1 files registered")
	}
	return files
}

// built is the schema's document, written and read back as a client would
// read it; made once, as validating it takes a while under the race
// detector.
var built = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := openapi.Build(molarFiles())
	if err != nil {
		return nil, err
	}
	data, err := openapi.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return openapi.Load(data)
})

func build(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestEveryMethodAsConnectCallsIt: each RPC is a POST of JSON at
// /package.Service/Method answering JSON or the Connect error; those
// without side effects also have the GET form with the message in the
// query; streams are marked, with the Connect streaming content type.
func TestEveryMethodAsConnectCallsIt(t *testing.T) {
	t.Parallel()
	doc := build(t)
	methods := 0
	for _, f := range schemaFiles(t) {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				methods++
				path := "/" + string(s.FullName()) + "/" + string(m.Name())
				item := doc.Paths.Value(path)
				if item == nil || item.Post == nil {
					t.Errorf("%s: no POST", path)
					continue
				}
				post := item.Post
				if def := post.Responses.Value("default"); def == nil || def.Ref != "#/components/responses/ConnectError" {
					t.Errorf("%s: the default answer is not the Connect error", path)
				}
				streaming := m.IsStreamingServer() || m.IsStreamingClient()
				ctype := "application/json"
				if streaming {
					ctype = "application/connect+json"
					if post.Extensions["x-connect-streaming"] != "server" || !strings.Contains(post.Description, "server stream") {
						t.Errorf("%s: stream not marked: %v %q", path, post.Extensions, post.Description)
					}
				}
				body := post.RequestBody.Value.Content.Get(ctype)
				if body == nil || body.Schema.Ref != "#/components/schemas/"+string(m.Input().FullName()) {
					t.Errorf("%s: request body is not %s as %s", path, m.Input().FullName(), ctype)
				}
				ok := post.Responses.Value("200")
				if ok == nil || ok.Value.Content.Get(ctype) == nil || ok.Value.Content.Get(ctype).Schema.Ref != "#/components/schemas/"+string(m.Output().FullName()) {
					t.Errorf("%s: answer is not %s as %s", path, m.Output().FullName(), ctype)
				}
				pure := m.Options().(*descriptorpb.MethodOptions).GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS
				if pure != (item.Get != nil) {
					t.Errorf("%s: GET form %v, want %v", path, item.Get != nil, pure)
				}
				if item.Get != nil {
					msg := item.Get.Parameters.GetByInAndName("query", "message")
					enc := item.Get.Parameters.GetByInAndName("query", "encoding")
					if msg == nil || !msg.Required || msg.Content.Get("application/json") == nil || enc == nil || !enc.Required {
						t.Errorf("%s: GET lacks the required message and encoding", path)
					}
				}
			}
		}
	}
	if methods < 60 {
		t.Errorf("only %d methods in the schema", methods)
	}
}

// TestAccessRules: who may call each method is in its description and in
// x-molar-access, and public methods need no token.
func TestAccessRules(t *testing.T) {
	t.Parallel()
	doc := build(t)
	for _, tc := range []struct {
		name, path, words string
		public            bool
	}{
		{"public", "/molar.v1.AuthService/Login", "anyone, signed in or not", true},
		{"signed in", "/molar.v1.AuthService/GetMe", "any signed-in member of staff", false},
		{"permission with roles", "/molar.v1.PatientService/RevealRrn", "permission `patients.reveal_rrn`, which the roles `admin` and `front_desk` grant", false},
		{"limit per person", "/molar.v1.PatientService/FindDuplicates", "At most 2 calls by one person run at once", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := doc.Paths.Value(tc.path).Post
			if !strings.Contains(op.Description, tc.words) {
				t.Errorf("description %q lacks %q", op.Description, tc.words)
			}
			if _, ok := op.Extensions["x-molar-access"]; !ok {
				t.Error("no x-molar-access")
			}
			public := op.Security != nil && len(*op.Security) == 0
			if public != tc.public {
				t.Errorf("needs no token: %v, want %v", public, tc.public)
			}
		})
	}
	if doc.Components.SecuritySchemes["bearerAuth"] == nil || len(doc.Security) != 1 {
		t.Error("no bearer security by default")
	}
}

// TestValidationRules: protovalidate rules become JSON Schema constraints
// where JSON Schema has them, and every rule is in the field's
// description, CEL rules by id and message.
func TestValidationRules(t *testing.T) {
	t.Parallel()
	doc := build(t)
	input := doc.Components.Schemas["molar.v1.PatientInput"].Value
	name := input.Properties["name"].Value
	if name.MinLength != 1 || name.MaxLength == nil || *name.MaxLength != 50 {
		t.Errorf("name: minLength %d maxLength %v", name.MinLength, name.MaxLength)
	}
	if !strings.Contains(name.Description, "`text.printable`: must not contain control characters") {
		t.Errorf("name: CEL rule not described: %q", name.Description)
	}
	email := input.Properties["email"].Value
	if email.Format != "email" || !strings.Contains(email.Description, "may be left empty") {
		t.Errorf("email: format %q, description %q", email.Format, email.Description)
	}
	tags := input.Properties["tags"].Value
	if tags.MaxItems == nil || *tags.MaxItems != 20 || !tags.UniqueItems || tags.Items.Value.MaxLength == nil || *tags.Items.Value.MaxLength != 30 {
		t.Errorf("tags: %+v", tags)
	}
	sex := input.Properties["sex"].Value
	if len(sex.AllOf) != 1 || sex.AllOf[0].Ref != "#/components/schemas/molar.v1.Sex" || !strings.Contains(sex.Description, "`enum.not_in`: [`SEX_UNSPECIFIED`]") {
		t.Errorf("sex: %+v", sex)
	}
	chart := doc.Components.Schemas["molar.v1.AddChartEntryRequest"].Value
	if !strings.Contains(chart.Description, "Exactly one of `condition`, `procedureCode` is set.") {
		t.Errorf("AddChartEntryRequest: message rule not described: %q", chart.Description)
	}
	// 64-bit integers are strings in proto3 JSON.
	chartNumber := doc.Components.Schemas["molar.v1.Patient"].Value.Properties["chartNumber"].Value
	if !chartNumber.Type.Is("string") || chartNumber.Format != "int64" {
		t.Errorf("chartNumber: %v %q", chartNumber.Type, chartNumber.Format)
	}
}

// TestConnectError: the error body is {code, message, details} with the
// Connect codes, and its details name the typed details the server sends.
func TestConnectError(t *testing.T) {
	t.Parallel()
	doc := build(t)
	e := doc.Components.Schemas["connect.Error"].Value
	if len(e.Properties["code"].Value.Enum) != 16 || e.Properties["message"] == nil || e.Properties["details"] == nil {
		t.Fatalf("connect.Error: %+v", e)
	}
	debug := doc.Components.Schemas["connect.ErrorDetail"].Value.Properties["debug"].Value
	var refs []string
	for _, r := range debug.AnyOf {
		refs = append(refs, r.Ref)
	}
	if !slices.Contains(refs, "#/components/schemas/molar.v1.Problem") || !slices.Contains(refs, "#/components/schemas/buf.validate.Violations") {
		t.Errorf("error details: %v", refs)
	}
	if doc.Components.Schemas["connect.EndStreamResponse"] == nil {
		t.Error("no end-of-stream body")
	}
}

// TestDeterministic: the same schema makes the same bytes, so the drift
// check of generated files holds.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	var outs []string
	for range 2 {
		doc, err := openapi.Build(schemaFiles(t))
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(data))
	}
	if outs[0] != outs[1] {
		t.Error("two builds of one schema differ")
	}
}

// TestTwoVersions: a molar.v2 beside molar.v1, as the README says one would
// be added, is described in the same document: both packages' methods at
// their own paths, services of the same name told apart by package in
// tags and operation ids, each method with its access rule.
func TestTwoVersions(t *testing.T) {
	t.Parallel()
	opts := &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_NO_SIDE_EFFECTS.Enum()}
	proto.SetExtension(opts, molarv1.E_Access, &molarv1.AccessRule{Rule: &molarv1.AccessRule_Permission{Permission: molarv1.Permission_PERMISSION_PATIENTS_READ}})
	v2, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:       proto.String("molar/v2/patient.proto"),
		Package:    proto.String("molar.v2"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"molar/v1/access.proto", "molar/v1/patient.proto"},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("PatientService"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name:       proto.String("GetPatient"),
				InputType:  proto.String(".molar.v1.GetPatientRequest"),
				OutputType: proto.String(".molar.v1.GetPatientResponse"),
				Options:    opts,
			}},
		}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi.Build(append(schemaFiles(t), v2))
	if err != nil {
		t.Fatal(err)
	}
	data, err := openapi.Marshal(doc) // validates: operation ids are unique
	if err != nil {
		t.Fatal(err)
	}
	if doc, err = openapi.Load(data); err != nil {
		t.Fatal(err)
	}
	if doc.Info.Version != "molar.v1, molar.v2" {
		t.Errorf("version %q", doc.Info.Version)
	}
	for path, tag := range map[string]string{
		"/molar.v1.PatientService/GetPatient": "molar.v1.PatientService",
		"/molar.v2.PatientService/GetPatient": "molar.v2.PatientService",
		"/molar.v1.AuthService/GetMe":         "AuthService",
	} {
		item := doc.Paths.Value(path)
		if item == nil || item.Post == nil || item.Get == nil {
			t.Errorf("%s: not described with POST and GET", path)
			continue
		}
		if got := item.Post.Tags; len(got) != 1 || got[0] != tag {
			t.Errorf("%s: tags %v, want %s", path, got, tag)
		}
	}
	if d := doc.Paths.Value("/molar.v2.PatientService/GetPatient").Post.Description; !strings.Contains(d, "`patients.read`") {
		t.Errorf("v2 access not described: %q", d)
	}
}
