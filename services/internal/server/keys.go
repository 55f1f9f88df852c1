package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"

	"github.com/zerocodelab/lab/services/internal/apierror"
)

// checkKeys refuses what encoding/json lets through: an object key given twice (the last one wins,
// so {"quantity":-1,"quantity":1} would pass validation of a value the client may not have meant) and,
// at the top level, a key that matches a field of v only when case is ignored ("QUANTITY").
// data is already known to be valid JSON.
func checkKeys(data []byte, v any) error {
	fields := jsonFields(reflect.TypeOf(v))
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end of the value: the decoder that ran first has checked the syntax
		}
		top := frame{}
		if len(stack) > 0 {
			top = *stack[len(stack)-1]
		}
		if top.object && top.wantKey {
			if tok == json.Delim('}') {
				stack = closeFrame(stack)
				continue
			}
			key := tok.(string)
			if err := checkKey(stack[len(stack)-1], key, len(stack) == 1, fields); err != nil {
				return err
			}
			stack[len(stack)-1].wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true, keys: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = closeFrame(stack)
		default:
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true // a scalar value: the next token is a key or '}'
			}
		}
	}
}

// frame is one open object or array of the value being walked.
type frame struct {
	object  bool
	wantKey bool // in an object: the next token is a key (or the closing brace)
	keys    map[string]bool
}

// closeFrame pops the innermost frame; in an enclosing object, a key comes next.
func closeFrame(stack []*frame) []*frame {
	stack = stack[:len(stack)-1]
	if len(stack) > 0 && stack[len(stack)-1].object {
		stack[len(stack)-1].wantKey = true
	}
	return stack
}

func checkKey(f *frame, key string, topLevel bool, fields []string) error {
	if f.keys[key] {
		return apierror.Newf(http.StatusBadRequest, "duplicate_field", "field %q appears more than once", key)
	}
	f.keys[key] = true
	if !topLevel {
		return nil
	}
	for _, name := range fields {
		if key != name && strings.EqualFold(key, name) {
			return apierror.Newf(http.StatusBadRequest, "unknown_field", "unknown field %q: field names are case-sensitive (did you mean %q?)", key, name)
		}
	}
	return nil
}

// jsonFields lists the JSON names of the fields of the struct t points to.
func jsonFields(t reflect.Type) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}
