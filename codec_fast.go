package sessions

import (
	"strconv"
	"unicode/utf8"
)

// Fast paths of JSONCodec for the scalar values sessions mostly hold (a
// counter, a name, a flag). Each one handles only input whose encoding/json
// result it can reproduce exactly, byte for byte on Marshal and value for
// value on Unmarshal, and reports false for everything else, which then
// goes through encoding/json unchanged: named types (which may implement
// json.Marshaler or json.Unmarshaler), strings json would escape, JSON with
// whitespace, null, escapes, numbers out of range, nil pointers, and every
// other type. A fast path never returns an error and never writes to the
// target unless encoding/json would have stored that same value without an
// error. FuzzJSONCodecFast compares both against encoding/json.

// marshalFast encodes v as json.Marshal would when v's dynamic type is
// string, bool or one of the basic integer types and, for a string, every
// byte is printable ASCII that json.Marshal writes as is. ok is false for
// anything else.
func marshalFast(v any) (b []byte, ok bool) {
	switch x := v.(type) {
	case string:
		return marshalStringFast(x)
	case bool:
		if x {
			return []byte("true"), true
		}
		return []byte("false"), true
	case int:
		return marshalInt(int64(x)), true
	case int64:
		return marshalInt(x), true
	case int32:
		return marshalInt(int64(x)), true
	case int16:
		return marshalInt(int64(x)), true
	case int8:
		return marshalInt(int64(x)), true
	case uint:
		return marshalUint(uint64(x)), true
	case uint64:
		return marshalUint(x), true
	case uint32:
		return marshalUint(uint64(x)), true
	case uint16:
		return marshalUint(uint64(x)), true
	case uint8:
		return marshalUint(uint64(x)), true
	}
	return nil, false
}

// marshalInt and marshalUint format into a stack buffer and return an
// exactly sized copy, as json.Marshal does (it copies out of its pooled
// buffer): the bytes are kept in the session record.
func marshalInt(n int64) []byte {
	var buf [20]byte
	return append([]byte(nil), strconv.AppendInt(buf[:0], n, 10)...)
}

func marshalUint(n uint64) []byte {
	var buf [20]byte
	return append([]byte(nil), strconv.AppendUint(buf[:0], n, 10)...)
}

// marshalStringFast quotes s when json.Marshal would copy it unchanged
// between the quotes: every byte in 0x20–0x7E and none of '"' and '\\'
// (escaped) or '<', '>' and '&' (escaped as \u003c etc., HTML-safe). Control
// characters, non-ASCII (invalid UTF-8 becomes U+FFFD, U+2028 and U+2029
// are escaped) and DEL fall back, though json would keep some of them.
func marshalStringFast(s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return nil, false
		}
	}
	b := make([]byte, len(s)+2)
	b[0] = '"'
	copy(b[1:], s)
	b[len(b)-1] = '"'
	return b, true
}

// unmarshalFast stores data into v as json.Unmarshal would and reports
// true, when v is a non-nil *string, *bool, *float64, *float32 or pointer
// to a basic integer type and data is exactly one JSON value of the
// matching kind that encoding/json accepts into it: no surrounding
// whitespace, no null, a string without escapes or control characters and
// of valid UTF-8, a number in range. Otherwise it leaves v alone and
// reports false.
func unmarshalFast(data []byte, v any) bool {
	switch p := v.(type) {
	case *string:
		if p == nil {
			return false
		}
		s, ok := unquoteFast(data)
		if ok {
			*p = s
		}
		return ok
	case *int:
		return setInt(p, data, strconv.IntSize)
	case *int64:
		return setInt(p, data, 64)
	case *int32:
		return setInt(p, data, 32)
	case *int16:
		return setInt(p, data, 16)
	case *int8:
		return setInt(p, data, 8)
	case *uint:
		return setUint(p, data, strconv.IntSize)
	case *uint64:
		return setUint(p, data, 64)
	case *uint32:
		return setUint(p, data, 32)
	case *uint16:
		return setUint(p, data, 16)
	case *uint8:
		return setUint(p, data, 8)
	case *bool:
		if p == nil {
			return false
		}
		switch string(data) {
		case "true":
			*p = true
		case "false":
			*p = false
		default:
			return false
		}
		return true
	case *float64:
		return setFloat(p, data, 64)
	case *float32:
		return setFloat(p, data, 32)
	}
	return false
}

// unquoteFast returns the contents of the JSON string data when no
// unquoting is needed: data is '"', bytes, '"' with no '"', '\\' or control
// character inside and valid UTF-8. encoding/json stores exactly those
// bytes then (its unquoteBytes takes the same shortcut); it rewrites
// invalid UTF-8 to U+FFFD, which is left to it.
func unquoteFast(data []byte) (string, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return "", false
	}
	in := data[1 : len(data)-1]
	ascii := true
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// isJSONInt reports whether data is exactly a JSON integer:
// -?(0|[1-9][0-9]*).
func isJSONInt(data []byte) bool {
	i := 0
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i == len(data) {
		return false
	}
	if data[i] == '0' {
		return i+1 == len(data)
	}
	for ; i < len(data); i++ {
		if data[i] < '0' || data[i] > '9' {
			return false
		}
	}
	return true
}

// isJSONNumber reports whether data is exactly a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func isJSONNumber(data []byte) bool {
	i := 0
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i == len(data) {
		return false
	}
	switch c := data[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = skipDigits(data, i+1)
	default:
		return false
	}
	if i < len(data) && data[i] == '.' {
		j := skipDigits(data, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := skipDigits(data, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(data)
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// setInt, setUint and setFloat parse as encoding/json does (it calls
// strconv.ParseInt/ParseUint(s, 10, 64) and then checks the target's size,
// or ParseFloat(s, bits), on the validated literal); any failure is left to
// encoding/json, which reports it and leaves *p unchanged.
func setInt[T int | int8 | int16 | int32 | int64](p *T, data []byte, bits int) bool {
	if p == nil || !isJSONInt(data) {
		return false
	}
	n, err := strconv.ParseInt(string(data), 10, bits)
	if err != nil {
		return false
	}
	*p = T(n)
	return true
}

func setUint[T uint | uint8 | uint16 | uint32 | uint64](p *T, data []byte, bits int) bool {
	if p == nil || !isJSONInt(data) {
		return false
	}
	n, err := strconv.ParseUint(string(data), 10, bits)
	if err != nil {
		return false
	}
	*p = T(n)
	return true
}

func setFloat[T float32 | float64](p *T, data []byte, bits int) bool {
	if p == nil || !isJSONNumber(data) {
		return false
	}
	n, err := strconv.ParseFloat(string(data), bits)
	if err != nil {
		return false
	}
	*p = T(n)
	return true
}
