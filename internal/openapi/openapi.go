// Package openapi describes Molar's API as an OpenAPI 3 document, the one
// the server serves at /openapi.json and shows at /docs: every RPC as the
// Connect protocol calls it (a POST of JSON to /package.Service/Method, the
// GET form of side-effect-free methods, server streams marked as such, the
// Connect error body), built from the schema's descriptors with their
// comments, validation rules and access rules. protoc-gen-molar-openapi runs
// it from `buf generate`.
package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Version is the OpenAPI version of the documents Build makes.
const Version = "3.0.3"

// Build describes the services of files. Messages and enums are described
// as they are reached from a method, the error details and the stream's
// end, whichever file declares them.
func Build(files []protoreflect.FileDescriptor) (*openapi3.T, error) {
	access, err := newAccessReader(files)
	if err != nil {
		return nil, err
	}
	b := &builder{access: access, schemas: openapi3.Schemas{}, tags: serviceTags(files)}
	doc := &openapi3.T{
		OpenAPI: Version,
		Info: &openapi3.Info{
			Title:       "Molar API",
			Version:     packages(files),
			Description: intro,
		},
		Servers: openapi3.Servers{{URL: "/", Description: "The server that serves this document"}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas:   b.schemas,
			Responses: openapi3.ResponseBodies{errorResponse: {Value: connectErrorResponse()}},
			SecuritySchemes: openapi3.SecuritySchemes{bearerScheme: {Value: &openapi3.SecurityScheme{
				Type:   "http",
				Scheme: "bearer",
				Description: "The access token that AuthService.Login and AuthService.Refresh answer with, " +
					"sent as `Authorization: Bearer <token>`. It lasts minutes; Refresh exchanges the " +
					"HttpOnly refresh cookie for a new one.",
			}}},
		},
		Security: openapi3.SecurityRequirements{{bearerScheme: []string{}}},
	}
	for _, f := range files {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			doc.Tags = append(doc.Tags, &openapi3.Tag{Name: b.tags[s.FullName()], Description: comment(s)})
			for j := range s.Methods().Len() {
				if err := b.addMethod(doc.Paths, s.Methods().Get(j)); err != nil {
					return nil, err
				}
			}
		}
	}
	// By name: the files come in the order of their imports.
	slices.SortFunc(doc.Tags, func(a, b *openapi3.Tag) int { return strings.Compare(a.Name, b.Name) })
	if err := b.addConnectSchemas(files); err != nil {
		return nil, err
	}
	return doc, nil
}

// Marshal writes doc as indented JSON with a final newline, after checking
// that it loads and validates as OpenAPI 3: a generator that writes an
// invalid document fails instead.
func Marshal(doc *openapi3.T) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if _, err := Load(buf.Bytes()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Load reads an OpenAPI document, resolves its references and validates it.
func Load(data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid OpenAPI document: %w", err)
	}
	return doc, nil
}

// serviceTags names each service of files for the document's tags and
// operation ids: by its own name, or by its full name where two packages
// (molar.v1 and molar.v2) have a service of that name.
func serviceTags(files []protoreflect.FileDescriptor) map[protoreflect.FullName]string {
	count := map[protoreflect.Name]int{}
	for _, f := range files {
		for i := range f.Services().Len() {
			count[f.Services().Get(i).Name()]++
		}
	}
	tags := map[protoreflect.FullName]string{}
	for _, f := range files {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			tags[s.FullName()] = string(s.Name())
			if count[s.Name()] > 1 {
				tags[s.FullName()] = string(s.FullName())
			}
		}
	}
	return tags
}

// packages names the protobuf packages of files, "molar.v1", as the
// document's version: a new major version of the API is a new package.
func packages(files []protoreflect.FileDescriptor) string {
	var names []string
	for _, f := range files {
		p := string(f.Package())
		if !slices.Contains(names, p) {
			names = append(names, p)
		}
	}
	return strings.Join(names, ", ")
}

// intro is the document's description: how any method is called.
const intro = `Every method of Molar's services, as the [Connect protocol](https://connectrpc.com/docs/protocol/) calls it.
The same methods answer gRPC and gRPC-Web on the same paths; this reference shows the Connect form, which any HTTP client can use.

**Calling a method.** ` + "`POST /<package>.<Service>/<Method>`" + ` with the request message as JSON
(` + "`Content-Type: application/json`" + `); the answer is the response message as JSON with status 200.
Field names are the lowerCamelCase JSON names of the protobuf fields. 64-bit integers travel as strings,
enums by name, timestamps as RFC 3339 text. Fields at their zero value (0, "", false, an empty list) are
left out of answers. ` + "`Content-Type: application/proto`" + ` sends and answers the binary encoding instead.

**Signing in.** Call AuthService.Login, then send its access token as ` + "`Authorization: Bearer <token>`" + `.
Each method's description says who may call it: anyone, any signed-in member of staff, or staff whose
roles grant a permission. AuthService's methods need the ` + "`Connect-Protocol-Version: 1`" + ` header.

**Errors.** A failed call answers a JSON body ` + "`{code, message, details}`" + ` with an HTTP status that
follows the code. Errors a person can meet carry a ` + "`molar.v1.Problem`" + ` detail; invalid requests carry
` + "`buf.validate.Violations`" + ` naming each field. Clients act on the code and the detail, never on the message.

**GET.** Methods without side effects may also be called as
` + "`GET /<package>.<Service>/<Method>?encoding=json&message=<URL-encoded JSON>`" + `, which caches and repeats safely.

**Streams.** Server-streaming methods (marked "server stream") use Connect's streaming form:
` + "`Content-Type: application/connect+json`" + `, and each message in either direction is framed by five bytes
(one of flags, four of length). The interactive "try it" cannot frame them; use a Connect client or ` + "`buf curl`" + `.

**Compression.** Answers over 1 KiB are compressed with gzip, or zstd when the client offers it
(` + "`Accept-Encoding`" + ` for unary calls, ` + "`Connect-Accept-Encoding`" + ` for streams).

**Validation.** Each field's rules (protovalidate) are listed in its description and, where JSON Schema can
say them, as schema constraints. The server checks every rule and answers ` + "`invalid_argument`" + ` when one fails.`
