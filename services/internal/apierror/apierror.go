// Package apierror is the one error body every service answers with:
// {"error": "<machine code>", "message": "<human sentence>"}.
package apierror

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Body is the JSON body of every error response.
type Body struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

// Error is an error that knows the HTTP status and body it should be answered with.
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error // the cause, logged but never sent to the client
}

// New returns an Error answered with status, code and message.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Newf is New with a formatted message.
func Newf(status int, code, format string, args ...any) *Error {
	return New(status, code, fmt.Sprintf(format, args...))
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Wrap returns a copy of e that carries err as its cause.
func (e *Error) Wrap(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

// StatusClientClosedRequest is the status recorded for a request whose client went away before it
// was answered. No client ever reads it; the convention (nginx's) keeps it out of the 5xx.
const StatusClientClosedRequest = 499

// clientGone returns the error recorded when the client went away while err happened.
func clientGone(err error) *Error {
	return New(StatusClientClosedRequest, "client_closed_request", "the client went away before the answer").Wrap(err)
}

// From maps any error a handler returned to the status and body the client gets.
// Errors the code did not anticipate become a 500 whose body reveals nothing internal.
func From(err error) (int, Body) {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.Status, Body{Code: apiErr.Code, Message: apiErr.Message}
	}
	if errors.Is(err, context.Canceled) {
		return From(clientGone(err))
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge, Body{Code: "body_too_large", Message: fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit)}
	}
	var httpErr *echo.HTTPError
	if errors.As(err, &httpErr) {
		return httpErr.Code, Body{Code: echoCode(httpErr.Code), Message: http.StatusText(httpErr.Code)}
	}
	return http.StatusInternalServerError, Body{Code: "internal", Message: "the server failed to handle the request"}
}

// echoCode names the statuses Echo itself answers with (unknown route, wrong method...).
func echoCode(status int) string {
	switch status {
	case http.StatusNotFound:
		return "route_not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusBadRequest:
		return "bad_request"
	}
	if status >= 500 {
		return "internal"
	}
	return "request_failed"
}

// ServerFault returns err unless the client caused it: a 4xx answer (an out-of-stock refusal is an
// outcome of the business, not a failure) or a client that went away. Neither marks a span as an error.
func ServerFault(err error) error {
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Status < 500 || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
