package breaking

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// root is the repository, two folders up.
const root = "../.."

// published reads proto/published.binpb. A buf image is a
// FileDescriptorSet whose files carry buf's own field beside the
// descriptor's, which stays among their unknown fields and is written back.
func published(t *testing.T) *descriptorpb.FileDescriptorSet {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "proto", "published.binpb"))
	if err != nil {
		t.Fatalf("%v (go tool task api:publish writes it)", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	return &set
}

// molarFile is the image's file of path.
func molarFile(t *testing.T, set *descriptorpb.FileDescriptorSet, path string) *descriptorpb.FileDescriptorProto {
	t.Helper()
	for _, f := range set.GetFile() {
		if f.GetName() == path {
			return f
		}
	}
	t.Fatalf("%s is not in the published image", path)
	return nil
}

// breaking runs check:breaking's command from the repository's root, with
// against in place of the published image, and returns its output and
// whether it passed.
func breaking(t *testing.T, against *descriptorpb.FileDescriptorSet) (string, bool) {
	t.Helper()
	buf, err := filepath.Abs(filepath.Join(root, ".bin", "buf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(buf); err != nil {
		t.Fatalf("%v (go tool task tools builds buf)", err)
	}
	if _, err := os.Stat(filepath.Join(root, "build", "proto", "buf", "validate", "validate.proto")); err != nil {
		t.Fatalf("%v (go tool task protodeps writes it)", err)
	}
	data, err := proto.Marshal(against)
	if err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(t.TempDir(), "against.binpb")
	if err := os.WriteFile(image, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buf, "breaking", "proto", "--against", image)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if _, failed := err.(*exec.ExitError); err != nil && !failed {
		t.Fatal(err)
	}
	return string(out), err == nil
}

// TestBreakingChangesFail: buf breaking as check:breaking runs it passes
// the schema against its published image and against one it only adds to,
// and fails when proto/ has lost a method or a field, or changed a field's
// type, since the image it is held to. Each change is made to a copy of the
// published image, the other side of the comparison, so proto/ stays as it
// is: a field the image has and proto/ lacks is a field proto/ deleted.
func TestBreakingChangesFail(t *testing.T) {
	const file = "molar/v1/patient.proto"
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, f *descriptorpb.FileDescriptorProto)
		// want is a phrase of buf's report; "" for a change that passes.
		want string
	}{
		{"as published", func(*testing.T, *descriptorpb.FileDescriptorProto) {}, ""},
		{"a method added since", func(t *testing.T, f *descriptorpb.FileDescriptorProto) {
			s := f.GetService()[0]
			s.Method = s.GetMethod()[1:]
		}, ""},
		{"a method deleted", func(t *testing.T, f *descriptorpb.FileDescriptorProto) {
			s := f.GetService()[0]
			m := proto.Clone(s.GetMethod()[0]).(*descriptorpb.MethodDescriptorProto)
			m.Name = proto.String("ArchivePatient")
			s.Method = append(s.Method, m)
		}, `RPC "ArchivePatient" on service "PatientService" was deleted`},
		{"a field deleted", func(t *testing.T, f *descriptorpb.FileDescriptorProto) {
			m := f.GetMessageType()[0]
			m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{
				Name: proto.String("nickname"), JsonName: proto.String("nickname"), Number: proto.Int32(999),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
			})
		}, `field "999" with name "nickname"`},
		{"a field's type changed", func(t *testing.T, f *descriptorpb.FileDescriptorProto) {
			for _, m := range f.GetMessageType() {
				for _, fd := range m.GetField() {
					if fd.GetType() == descriptorpb.FieldDescriptorProto_TYPE_STRING && fd.OneofIndex == nil && fd.GetLabel() != descriptorpb.FieldDescriptorProto_LABEL_REPEATED {
						fd.Type = descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
						return
					}
				}
			}
			t.Fatal("no string field to change")
		}, `changed type from "int64" to "string"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := published(t)
			tc.change(t, molarFile(t, set, file))
			out, ok := breaking(t, set)
			t.Logf("buf breaking: %s", strings.TrimSpace(out))
			switch {
			case tc.want == "" && !ok:
				t.Errorf("refused a change that breaks nothing: %s", out)
			case tc.want != "" && ok:
				t.Error("passed a breaking change")
			case tc.want != "" && !strings.Contains(out, tc.want):
				t.Errorf("report lacks %q: %s", tc.want, out)
			}
		})
	}
}
