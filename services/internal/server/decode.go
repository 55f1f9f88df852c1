package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/zerocodelab/lab/services/internal/apierror"
)

// MaxBodyBytes is the largest request body any service reads.
const MaxBodyBytes = 64 << 10

// DecodeJSON decodes a JSON request body into v, strictly: the content type must be application/json,
// the body at most MaxBodyBytes, one JSON value with no unknown fields, no key given twice and no key
// that differs from a field's name only in case. Every failure is an *apierror.Error with a 4xx
// status that says what was wrong.
func DecodeJSON(contentType string, body io.Reader, v any) error {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/json" {
		return apierror.Newf(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the request body must be application/json, not %q", contentType)
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxBodyBytes+1))
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return apierror.New(http.StatusRequestTimeout, "request_timeout", "the request body did not arrive in time").Wrap(err)
	}
	if err != nil {
		return apierror.New(http.StatusBadRequest, "unreadable_body", "the request body could not be read").Wrap(err)
	}
	if len(data) > MaxBodyBytes {
		return apierror.Newf(http.StatusRequestEntityTooLarge, "body_too_large",
			"the request body is larger than %d bytes", MaxBodyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apierror.New(http.StatusBadRequest, "invalid_json", "the request body must hold exactly one JSON value")
	}
	return checkKeys(data, v)
}

func decodeError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return apierror.Newf(http.StatusBadRequest, "invalid_json", "malformed JSON at byte %d: %v", syntaxErr.Offset, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return apierror.New(http.StatusBadRequest, "invalid_json", "the request body is empty or cut short")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return apierror.Newf(http.StatusBadRequest, "invalid_json", "the request body must be a JSON object, not %s", typeErr.Value)
		}
		return apierror.Newf(http.StatusBadRequest, "invalid_field", "field %q must be %s, not %s", typeErr.Field, jsonType(typeErr.Type.Kind().String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one; the field name is the quoted tail.
		return apierror.Newf(http.StatusBadRequest, "unknown_field", "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return apierror.New(http.StatusBadRequest, "invalid_json", fmt.Sprintf("the request body is not valid JSON: %v", err))
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	}
	return "a " + kind
}
