package openapi

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The schema's access options (proto/molar/v1/access.proto), read from the
// descriptors being described rather than from compiled Go code, so that a
// change to them is described by the same `buf generate` that makes it.
const (
	accessOption = "molar.v1.access"
	grantsOption = "molar.v1.grants"
	roleEnum     = "molar.v1.Role"
)

// accessReader reads each method's access rule.
type accessReader struct {
	types  *dynamicpb.Types
	access protoreflect.ExtensionType
	// roles lists, for each permission's number, the short names of the
	// roles that grant it.
	roles map[protoreflect.EnumNumber][]string
}

// Rule is who may call a method, as the document's x-molar-access says.
type Rule struct {
	Public        bool     `json:"public,omitempty"`
	Authenticated bool     `json:"authenticated,omitempty"`
	Permission    string   `json:"permission,omitempty"`
	Roles         []string `json:"roles,omitempty"`
	// ConcurrentPerUser is how many calls of the method one person may
	// have running at once; 0 for no limit.
	ConcurrentPerUser uint32 `json:"concurrentPerUser,omitempty"`
}

// newAccessReader finds the access option among files and their imports.
// Without it (a schema that does not declare access) no rule is described.
func newAccessReader(files []protoreflect.FileDescriptor) (*accessReader, error) {
	reg := new(protoregistry.Files)
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor) error
	add = func(f protoreflect.FileDescriptor) error {
		if seen[f.Path()] {
			return nil
		}
		seen[f.Path()] = true
		for i := range f.Imports().Len() {
			if err := add(f.Imports().Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		// Files from another registry are copied, so that the dynamic types
		// refer to this one's descriptors only.
		fd, err := protodesc.NewFile(protodesc.ToFileDescriptorProto(f), reg)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path(), err)
		}
		return reg.RegisterFile(fd)
	}
	for _, f := range files {
		if err := add(f); err != nil {
			return nil, err
		}
	}
	r := &accessReader{types: dynamicpb.NewTypes(reg), roles: map[protoreflect.EnumNumber][]string{}}
	xt, err := r.types.FindExtensionByName(accessOption)
	if err != nil {
		return r, nil
	}
	r.access = xt
	grants, err := r.types.FindExtensionByName(grantsOption)
	if err != nil {
		return r, nil
	}
	d, err := reg.FindDescriptorByName(roleEnum)
	if err != nil {
		return r, nil
	}
	ed, ok := d.(protoreflect.EnumDescriptor)
	if !ok {
		return r, nil
	}
	for i := range ed.Values().Len() {
		v := ed.Values().Get(i)
		g, ok := extension(v.Options(), grants, r.types).(protoreflect.Message)
		if !ok {
			continue
		}
		list := g.Get(g.Descriptor().Fields().ByName("permissions")).List()
		role := strings.ToLower(strings.TrimPrefix(string(v.Name()), "ROLE_"))
		for j := range list.Len() {
			p := list.Get(j).Enum()
			r.roles[p] = append(r.roles[p], role)
		}
	}
	return r, nil
}

// rule is m's access rule: nil when the schema declares no access option,
// a Rule with nothing set when m has none (and is refused to everyone).
func (r *accessReader) rule(m protoreflect.MethodDescriptor) (*Rule, error) {
	if r.access == nil {
		return nil, nil
	}
	msg, ok := extension(m.Options(), r.access, r.types).(protoreflect.Message)
	if !ok {
		return &Rule{}, nil
	}
	fields := msg.Descriptor().Fields()
	get := func(name protoreflect.Name) (protoreflect.Value, bool) {
		fd := fields.ByName(name)
		if fd == nil || !msg.Has(fd) {
			return protoreflect.Value{}, false
		}
		return msg.Get(fd), true
	}
	rule := &Rule{}
	if v, ok := get("public"); ok {
		rule.Public = v.Bool()
	}
	if v, ok := get("authenticated"); ok {
		rule.Authenticated = v.Bool()
	}
	if v, ok := get("permission"); ok {
		ev := fields.ByName("permission").Enum().Values().ByNumber(v.Enum())
		if ev == nil {
			return nil, fmt.Errorf("unknown permission %d", v.Enum())
		}
		rule.Permission = permissionName(ev.Name())
		rule.Roles = r.roles[v.Enum()]
	}
	if v, ok := get("concurrent_per_user"); ok {
		rule.ConcurrentPerUser = uint32(v.Uint())
	}
	return rule, nil
}

// permissionName is a permission's short name, as services/auth writes
// it: PERMISSION_PATIENTS_READ is "patients.read".
func permissionName(n protoreflect.Name) string {
	s := strings.ToLower(strings.TrimPrefix(string(n), "PERMISSION_"))
	return strings.Replace(s, "_", ".", 1)
}

// describe says the rule in a sentence or two.
func (r *Rule) describe() string {
	var who string
	switch {
	case r.Public:
		who = "**Access:** anyone, signed in or not."
	case r.Authenticated:
		who = "**Access:** any signed-in member of staff."
	case r.Permission != "":
		who = "**Access:** staff with the permission `" + r.Permission + "`"
		if len(r.Roles) > 0 {
			who += ", which the roles " + joinAnd(r.Roles) + " grant"
		}
		who += "."
	default:
		who = "**Access:** nobody; the method declares no access rule, so every call is refused."
	}
	if r.ConcurrentPerUser > 0 {
		who += fmt.Sprintf(" At most %d calls by one person run at once; as many more wait, "+
			"and calls beyond those are refused with `resource_exhausted`.", r.ConcurrentPerUser)
	}
	return who
}

// extension is the rule as the operation's x-molar-access.
func (r *Rule) extension() any { return r }

// joinAnd writes "a, b and c" with each name in backquotes.
func joinAnd(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
