// Package auth signs staff in, keeps their sessions, manages their accounts,
// and decides who may call what. The rules come from the schema: every RPC
// declares its access rule, every role its grants.
package auth

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Rules maps each RPC's procedure ("/molar.v1.ClinicService/GetClinic") to
// the access rule it declares in the schema.
type Rules map[string]*molarv1.AccessRule

// SchemaRules reads the access rule of every method of every service in the
// molar.v1 package from the compiled schema. A method without a rule is
// absent, and the interceptor refuses it.
func SchemaRules() Rules {
	rules := Rules{}
	protoregistry.GlobalFiles.RangeFilesByPackage("molar.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				if rule, ok := proto.GetExtension(md.Options(), molarv1.E_Access).(*molarv1.AccessRule); ok && rule.GetRule() != nil {
					rules[Procedure(md)] = rule
				}
			}
		}
		return true
	})
	return rules
}

// Procedure is the Connect procedure path of a method.
func Procedure(md protoreflect.MethodDescriptor) string {
	return fmt.Sprintf("/%s/%s", md.Parent().FullName(), md.Name())
}

// Grants returns the permissions a role grants, as declared in the schema.
func Grants(r molarv1.Role) []molarv1.Permission {
	ev := molarv1.Role_ROLE_UNSPECIFIED.Descriptor().Values().ByNumber(protoreflect.EnumNumber(r))
	if ev == nil {
		return nil
	}
	g, _ := proto.GetExtension(ev.Options(), molarv1.E_Grants).(*molarv1.RoleGrants)
	return g.GetPermissions()
}

// PermissionsOf is the union of the grants of roles, sorted.
func PermissionsOf(roles []molarv1.Role) []molarv1.Permission {
	var out []molarv1.Permission
	for _, r := range roles {
		for _, p := range Grants(r) {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// PermissionName is a permission's short name: PERMISSION_PATIENTS_READ is
// "patients.read".
func PermissionName(p molarv1.Permission) string {
	n := strings.ToLower(strings.TrimPrefix(p.String(), "PERMISSION_"))
	return strings.Replace(n, "_", ".", 1)
}

// RoleName is a role's short name: ROLE_FRONT_DESK is "front_desk".
func RoleName(r molarv1.Role) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_"))
}

// ParseRole reads a short role name.
func ParseRole(s string) (molarv1.Role, bool) {
	v, ok := molarv1.Role_value["ROLE_"+strings.ToUpper(strings.TrimSpace(s))]
	if !ok || v == 0 {
		return 0, false
	}
	return molarv1.Role(v), true
}
