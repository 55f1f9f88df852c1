package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/zerocodelab/lab/services/internal/apierror"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	tests := []struct {
		contentType, body string
		status            int
		code              string
	}{
		{"application/json", `{"name":"a","n":1}`, 0, ""},
		{"application/json; charset=utf-8", `{"name":"a"}`, 0, ""},
		{"text/plain", `{}`, 415, "unsupported_media_type"},
		{"", `{}`, 415, "unsupported_media_type"},
		{"application/json", `{"name":`, 400, "invalid_json"},
		{"application/json", `{"name":"a"} {"name":"b"}`, 400, "invalid_json"},
		{"application/json", `{"name":"a","extra":true}`, 400, "unknown_field"},
		{"application/json", `{"n":"1"}`, 400, "invalid_field"},
		{"application/json", `"just a string"`, 400, "invalid_json"},
		{"application/json", `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "body_too_large"},
		{"application/json", `{"n":-1,"n":1}`, 400, "duplicate_field"},
		{"application/json", `{"name":"a","n":1,"name":"a"}`, 400, "duplicate_field"},
		{"application/json", `{"name":"a","N":1}`, 400, "unknown_field"},
		{"application/json", `{"NAME":"a"}`, 400, "unknown_field"},
		{"application/json", `{"name":"a","n":1,"Name":"b"}`, 400, "unknown_field"}, // encoding/json would let "Name" overwrite "name"
		{"application/json", `{"name":"a","n":1}  `, 0, ""},
	}
	for _, tt := range tests {
		var v body
		err := DecodeJSON(tt.contentType, strings.NewReader(tt.body), &v)
		if tt.status == 0 {
			if err != nil {
				t.Errorf("DecodeJSON(%q, %.40q) = %v; want no error", tt.contentType, tt.body, err)
			}
			continue
		}
		var apiErr *apierror.Error
		if !errors.As(err, &apiErr) || apiErr.Status != tt.status || apiErr.Code != tt.code {
			t.Errorf("DecodeJSON(%q, %.40q) = %v; want %d %s", tt.contentType, tt.body, err, tt.status, tt.code)
		}
	}
}
