// Package services holds what every domain service shares: the error
// vocabulary and its mapping to Connect codes, the RPC interceptors, and the
// log handler that masks sensitive fields. Each domain lives in a subpackage.
package services

import (
	"errors"
	"fmt"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Code classifies an error the way a caller can act on it. Anything that is not
// an *Error is an internal failure.
type Code uint8

// The error codes domain code may return.
const (
	// Invalid: the request breaks a rule; the caller must change it.
	Invalid Code = iota + 1
	// NotFound: the thing asked for does not exist.
	NotFound
	// AlreadyExists: creating would duplicate something unique.
	AlreadyExists
	// Aborted: a concurrent change won; the caller should reload and retry.
	Aborted
	// FailedPrecondition: the thing is not in a state that allows this.
	FailedPrecondition
	// Unauthenticated: the caller is not signed in, or the credentials are bad.
	Unauthenticated
	// PermissionDenied: the caller is signed in but may not do this.
	PermissionDenied
	// ResourceExhausted: too many attempts; retry after the hint.
	ResourceExhausted
	// Unavailable: a dependency is down; retry later.
	Unavailable
)

// Violation says which field of a request broke which rule.
type Violation struct {
	// Field is the path of the field, e.g. "clinic.opening_hours[2].open_time".
	Field string
	// Rule identifies the rule, e.g. "clinic.business_registration_number.checksum".
	Rule string
	// Message explains the rule in English; clients translate by Rule.
	Message string
}

// Error is an error the caller is meant to see and act on.
type Error struct {
	Code       Code
	Message    string
	Violations []Violation
	// Problem is the typed detail a client renders in the user's language;
	// nil for errors that need none.
	Problem *molarv1.Problem
	// RetryAfter is a hint for ResourceExhausted and Unavailable.
	RetryAfter time.Duration
	// Err is an optional cause, logged but never sent to the client.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Refuse returns an *Error with code that carries p as its typed detail; the
// message is for logs and developers, clients render p.
func Refuse(code Code, p *molarv1.Problem, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Problem: p}
}

// ProblemOf returns the typed detail of err, or nil.
func ProblemOf(err error) *molarv1.Problem {
	var e *Error
	if errors.As(err, &e) {
		return e.Problem
	}
	return nil
}

// InvalidFields returns an Invalid error listing the given violations.
func InvalidFields(violations ...Violation) *Error {
	msg := "invalid request"
	if len(violations) == 1 {
		msg = violations[0].Field + ": " + violations[0].Message
	}
	return &Error{Code: Invalid, Message: msg, Violations: violations}
}

// ErrorCode returns the code of err, or 0 if err is nil or not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
