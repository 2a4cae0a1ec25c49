package openapi

import (
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

const (
	// bearerScheme is the security scheme of the access token.
	bearerScheme = "bearerAuth"
	// errorResponse is the shared response of a failed call.
	errorResponse = "ConnectError"
	// errorSchema and friends are the Connect protocol's own bodies.
	errorSchema       = "connect.Error"
	errorDetailSchema = "connect.ErrorDetail"
	endStreamSchema   = "connect.EndStreamResponse"
	// streamType is the Connect streaming content type with JSON messages.
	streamType = "application/connect+json"
	// authService needs the Connect-Protocol-Version header (it refuses
	// calls without it, which no plain cross-site form can send).
	authService = "AuthService"
)

// builder makes the document's paths and the schemas they refer to.
type builder struct {
	access  *accessReader
	schemas openapi3.Schemas
	// tags names each service in tags and operation ids (serviceTags).
	tags map[protoreflect.FullName]string
}

// addMethod adds m's POST form, and its GET form when it has no side
// effects, at /package.Service/Method.
func (b *builder) addMethod(paths *openapi3.Paths, m protoreflect.MethodDescriptor) error {
	s := m.Parent().(protoreflect.ServiceDescriptor)
	path := "/" + string(s.FullName()) + "/" + string(m.Name())
	rule, err := b.access.rule(m)
	if err != nil {
		return fmt.Errorf("%s: %w", m.FullName(), err)
	}
	in, err := b.messageRef(m.Input())
	if err != nil {
		return err
	}
	out, err := b.messageRef(m.Output())
	if err != nil {
		return err
	}
	needsHeader := s.Name() == authService
	desc := comment(m)
	if rule != nil {
		desc = joinParagraphs(desc, rule.describe())
	}

	post := &openapi3.Operation{
		Tags:        []string{b.tags[s.FullName()]},
		Summary:     string(m.Name()),
		OperationID: strings.ReplaceAll(b.tags[s.FullName()], ".", "_") + "_" + string(m.Name()),
		Responses:   openapi3.NewResponses(),
		Extensions:  map[string]any{},
	}
	if rule != nil {
		post.Extensions["x-molar-access"] = rule.extension()
		if rule.Public {
			post.Security = &openapi3.SecurityRequirements{}
		}
	}
	idempotency := m.Options().(*descriptorpb.MethodOptions).GetIdempotencyLevel()
	if idempotency != descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN {
		post.Extensions["x-connect-idempotency"] = idempotency.String()
	}
	post.Responses.Set("default", &openapi3.ResponseRef{Ref: "#/components/responses/" + errorResponse})

	switch {
	case m.IsStreamingClient() || m.IsStreamingServer():
		kind := "server"
		switch {
		case m.IsStreamingClient() && m.IsStreamingServer():
			kind = "bidi"
		case m.IsStreamingClient():
			kind = "client"
		}
		post.Extensions["x-connect-streaming"] = kind
		post.Summary += " (" + kind + " stream)"
		post.Description = joinParagraphs(desc, streamNote(kind))
		post.RequestBody = &openapi3.RequestBodyRef{Value: &openapi3.RequestBody{
			Required:    true,
			Description: streamBodyNote(kind),
			Content:     openapi3.Content{streamType: {Schema: in}},
		}}
		post.Responses.Set("200", &openapi3.ResponseRef{Value: &openapi3.Response{
			Description: ptr("A stream of " + string(m.Output().FullName()) + " messages, each framed by five bytes, " +
				"ended by a frame with flag 2 holding " + endStreamSchema + "."),
			Content: openapi3.Content{streamType: {Schema: out}},
		}})
		paths.Set(path, &openapi3.PathItem{Post: post})
		return nil
	}

	post.Description = desc
	post.Parameters = openapi3.Parameters{protocolHeader(needsHeader)}
	post.RequestBody = &openapi3.RequestBodyRef{Value: &openapi3.RequestBody{
		Required: true,
		Content:  openapi3.Content{"application/json": {Schema: in}},
	}}
	post.Responses.Set("200", &openapi3.ResponseRef{Value: &openapi3.Response{
		Description: ptr("The " + string(m.Output().FullName()) + "."),
		Content:     openapi3.Content{"application/json": {Schema: out}},
	}})
	item := &openapi3.PathItem{Post: post}

	if idempotency == descriptorpb.MethodOptions_NO_SIDE_EFFECTS {
		get := *post
		get.Summary = string(m.Name()) + " (GET)"
		get.OperationID += "_get"
		get.Description = joinParagraphs(desc, "The GET form of "+string(m.Name())+": the request message travels "+
			"URL-encoded in the query, so the call can be repeated and cached safely.")
		get.RequestBody = nil
		get.Parameters = getParameters(in, needsHeader)
		item.Get = &get
	}
	paths.Set(path, item)
	return nil
}

// protocolHeader is the Connect-Protocol-Version header, required where
// the server demands it.
func protocolHeader(required bool) *openapi3.ParameterRef {
	desc := "The Connect protocol version. Optional here; the server accepts calls without it."
	if required {
		desc = "The Connect protocol version. This service refuses calls without it."
	}
	return &openapi3.ParameterRef{Value: &openapi3.Parameter{
		Name:        "Connect-Protocol-Version",
		In:          openapi3.ParameterInHeader,
		Description: desc,
		Required:    required,
		Schema:      &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}, Enum: []any{"1"}, Default: "1"}},
		Example:     "1",
	}}
}

// getParameters are the query parameters of a Connect GET.
func getParameters(in *openapi3.SchemaRef, needsVersion bool) openapi3.Parameters {
	str := func(values ...any) *openapi3.SchemaRef {
		return &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}, Enum: values}}
	}
	versionDesc := "The Connect protocol version. Optional here; the server accepts calls without it."
	if needsVersion {
		versionDesc = "The Connect protocol version. This service refuses calls without it."
	}
	return openapi3.Parameters{
		{Value: &openapi3.Parameter{
			Name: "encoding", In: openapi3.ParameterInQuery, Required: true,
			Description: "How message is encoded: json, or proto (then with base64=1).",
			Schema:      str("json", "proto"), Example: "json",
		}},
		{Value: &openapi3.Parameter{
			Name: "message", In: openapi3.ParameterInQuery, Required: true,
			Description: "The request message, as JSON (URL-encoded).",
			// An empty message asks for the defaults: what "try it" starts from.
			Content: openapi3.Content{"application/json": {Schema: in, Example: map[string]any{}}},
		}},
		{Value: &openapi3.Parameter{
			Name: "connect", In: openapi3.ParameterInQuery, Required: needsVersion,
			Description: versionDesc,
			Schema:      str("v1"), Example: "v1",
		}},
		{Value: &openapi3.Parameter{
			Name: "base64", In: openapi3.ParameterInQuery,
			Description: "1 when message is URL-safe base64 (for encoding=proto, or compressed JSON).",
			Schema:      str("1"),
		}},
		{Value: &openapi3.Parameter{
			Name: "compression", In: openapi3.ParameterInQuery,
			Description: "How message is compressed before the base64: gzip or zstd.",
			Schema:      str("identity", "gzip", "zstd"),
		}},
	}
}

// streamNote says how a stream is called.
func streamNote(kind string) string {
	return "**A " + kind + " stream.** Call it with `Content-Type: " + streamType + "`. Every message in either " +
		"direction is framed: one byte of flags, four bytes of length (big-endian), then the JSON message. The " +
		"last frame from the server has flag 2 and holds " + endStreamSchema + ", with the error if the stream " +
		"failed. The interactive \"try it\" cannot frame messages; use a Connect client or `buf curl`."
}

// streamBodyNote describes the request body of a stream.
func streamBodyNote(kind string) string {
	if kind == "server" {
		return "One request message, framed by five bytes (flags 0, then its length)."
	}
	return "Request messages, each framed by five bytes (flags 0, then its length)."
}

// connectErrorResponse is the answer of any failed call.
func connectErrorResponse() *openapi3.Response {
	var rows []string
	for _, c := range connectCodes {
		rows = append(rows, fmt.Sprintf("| `%s` | %d |", c.name, c.status))
	}
	return &openapi3.Response{
		Description: ptr("The call failed. The HTTP status follows the Connect code:\n\n| code | HTTP status |\n| --- | --- |\n" +
			strings.Join(rows, "\n")),
		Content: openapi3.Content{"application/json": {Schema: &openapi3.SchemaRef{Ref: schemaRef(errorSchema)}}},
	}
}

// connectCodes are the Connect error codes with the HTTP status each is
// answered with.
var connectCodes = []struct {
	name   string
	status int
}{
	{"canceled", 499}, {"unknown", 500}, {"invalid_argument", 400}, {"deadline_exceeded", 504},
	{"not_found", 404}, {"already_exists", 409}, {"permission_denied", 403}, {"resource_exhausted", 429},
	{"failed_precondition", 400}, {"aborted", 409}, {"out_of_range", 400}, {"unimplemented", 501},
	{"internal", 500}, {"unavailable", 503}, {"data_loss", 500}, {"unauthenticated", 401},
}

// errorDetailTypes are the messages the server sends as error details.
var errorDetailTypes = []protoreflect.FullName{"molar.v1.Problem", "buf.validate.Violations"}

// addConnectSchemas adds the Connect protocol's error and end-of-stream
// bodies, with the error details this server sends.
func (b *builder) addConnectSchemas(files []protoreflect.FileDescriptor) error {
	var debug openapi3.SchemaRefs
	var names []string
	for _, name := range errorDetailTypes {
		md := findMessage(files, name)
		if md == nil {
			continue
		}
		ref, err := b.messageRef(md)
		if err != nil {
			return err
		}
		debug = append(debug, ref)
		names = append(names, "`"+string(name)+"`")
	}
	codes := make([]any, len(connectCodes))
	for i, c := range connectCodes {
		codes[i] = c.name
	}
	str := &openapi3.Types{openapi3.TypeString}
	detail := &openapi3.Schema{
		Type:        &openapi3.Types{openapi3.TypeObject},
		Description: "A typed error detail: a protobuf message packed as google.protobuf.Any.",
		Properties: openapi3.Schemas{
			"type":  {Value: &openapi3.Schema{Type: str, Description: "The detail's message type, e.g. molar.v1.Problem."}},
			"value": {Value: &openapi3.Schema{Type: str, Format: "byte", Description: "The detail in the binary protobuf encoding, base64 without padding."}},
			"debug": {Value: &openapi3.Schema{
				Description: "The same detail as JSON, for reading (clients decode value). One of: " + strings.Join(names, ", ") + ".",
				AnyOf:       debug,
			}},
		},
		Required: []string{"type", "value"},
	}
	b.schemas[errorDetailSchema] = &openapi3.SchemaRef{Value: detail}
	b.schemas[errorSchema] = &openapi3.SchemaRef{Value: &openapi3.Schema{
		Type:        &openapi3.Types{openapi3.TypeObject},
		Description: "The body of a failed Connect call.",
		Properties: openapi3.Schemas{
			"code":    {Value: &openapi3.Schema{Type: str, Enum: codes, Description: "What kind of failure; the HTTP status follows it."}},
			"message": {Value: &openapi3.Schema{Type: str, Description: "For developers and logs; never shown to users."}},
			"details": {Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeArray}, Items: &openapi3.SchemaRef{Ref: schemaRef(errorDetailSchema)}}},
		},
		Required: []string{"code"},
	}}
	b.schemas[endStreamSchema] = &openapi3.SchemaRef{Value: &openapi3.Schema{
		Type:        &openapi3.Types{openapi3.TypeObject},
		Description: "The last frame of a Connect stream (flag 2): the error, if the stream failed, and trailers.",
		Properties: openapi3.Schemas{
			"error": {Ref: schemaRef(errorSchema)},
			"metadata": {Value: &openapi3.Schema{
				Type:                 &openapi3.Types{openapi3.TypeObject},
				Description:          "Trailers: each name with its values.",
				AdditionalProperties: openapi3.AdditionalProperties{Schema: &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeArray}, Items: &openapi3.SchemaRef{Value: &openapi3.Schema{Type: str}}}}},
			}},
		},
	}}
	return nil
}

// findMessage finds a message by name in files or what they import.
func findMessage(files []protoreflect.FileDescriptor, name protoreflect.FullName) protoreflect.MessageDescriptor {
	seen := map[string]bool{}
	var find func(f protoreflect.FileDescriptor) protoreflect.MessageDescriptor
	find = func(f protoreflect.FileDescriptor) protoreflect.MessageDescriptor {
		if seen[f.Path()] {
			return nil
		}
		seen[f.Path()] = true
		if f.Package() == name.Parent() {
			if md := f.Messages().ByName(name.Name()); md != nil {
				return md
			}
		}
		for i := range f.Imports().Len() {
			if md := find(f.Imports().Get(i).FileDescriptor); md != nil {
				return md
			}
		}
		return nil
	}
	for _, f := range files {
		if md := find(f); md != nil {
			return md
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
