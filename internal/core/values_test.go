package core

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// sorted reports whether v is strictly ascending by key (so no key is
// there twice), as every Values must be.
func (v Values) sorted() bool {
	for i := 1; i < len(v); i++ {
		if v[i-1].Key >= v[i].Key {
			return false
		}
	}
	return true
}

// valuesOf builds Values from a map.
func valuesOf(m map[string][]byte) Values {
	v := make(Values, 0, len(m))
	for k, b := range m {
		v = append(v, Entry{k, b})
	}
	slices.SortFunc(v, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return v
}

// equal reports whether v and w hold the same keys and value bytes.
func (v Values) equal(w Values) bool {
	if len(v) != len(w) {
		return false
	}
	for i := range v {
		if v[i].Key != w[i].Key || !bytes.Equal(v[i].Val, w[i].Val) {
			return false
		}
	}
	return true
}

func TestValuesGetAndKeys(t *testing.T) {
	v := valuesOf(map[string][]byte{"b": []byte("2"), "a": []byte("1"), "c": []byte("3"), "": []byte("0")})
	if !v.sorted() {
		t.Fatalf("valuesOf gave unsorted %q", v)
	}
	for _, k := range []string{"", "a", "b", "c"} {
		if _, ok := v.Get(k); !ok {
			t.Errorf("get(%q) missing", k)
		}
	}
	if got, _ := v.Get("b"); string(got) != "2" {
		t.Errorf("get(b) = %q", got)
	}
	for _, k := range []string{"aa", "d", " "} {
		if _, ok := v.Get(k); ok {
			t.Errorf("get(%q) found a value that is not there", k)
		}
	}
	if got := v.Keys(); len(got) != 4 || got[0] != "" || got[3] != "c" {
		t.Errorf("keys() = %q", got)
	}
}

// TestDeltaApply: the merge of the stored Values with one request's
// changes, the heart of the no-lost-update save, against a map model.
func TestDeltaApply(t *testing.T) {
	base := valuesOf(map[string][]byte{"a": []byte("1"), "c": []byte("3"), "e": []byte("5")})
	type step struct {
		kind string // set, del, clear
		key  string
		val  string
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"nothing", nil},
		{"set before, between, after and over", []step{{"set", "0", "x"}, {"set", "b", "y"}, {"set", "z", "w"}, {"set", "c", "33"}}},
		{"delete present and absent", []step{{"del", "a", ""}, {"del", "b", ""}, {"del", "e", ""}}},
		{"set then delete, delete then set", []step{{"set", "b", "1"}, {"del", "b", ""}, {"del", "c", ""}, {"set", "c", "again"}}},
		{"clear then set", []step{{"set", "q", "1"}, {"clear", "", ""}, {"set", "a", "new"}}},
		{"clear only", []step{{"clear", "", ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			model := map[string][]byte{}
			for _, e := range base {
				model[e.Key] = e.Val
			}
			var d Delta
			for _, s := range tc.steps {
				switch s.kind {
				case "set":
					d.Set(s.key, []byte(s.val))
					model[s.key] = []byte(s.val)
				case "del":
					d.Del(s.key)
					delete(model, s.key)
				case "clear":
					d.Clear()
					clear(model)
				}
			}
			got, _ := d.Apply(base)
			if want := valuesOf(model); !got.equal(want) || !got.sorted() {
				t.Fatalf("apply = %q; want %q", got, want)
			}
			if want := valuesOf(map[string][]byte{"a": []byte("1"), "c": []byte("3"), "e": []byte("5")}); !base.equal(want) {
				t.Fatalf("apply changed its base: %q", base)
			}
			for k, v := range model {
				got, present, decided := d.Lookup(k)
				if b, inBase := base.Get(k); !decided && !(inBase && bytes.Equal(b, v)) || decided && (!present || !bytes.Equal(got, v)) {
					t.Errorf("lookup(%q) = %q, %v, %v; the model holds %q", k, got, present, decided, v)
				}
			}
		})
	}
}

func TestDecodeRecordRejectsUnsortedKeys(t *testing.T) {
	// Keys "b" then "a": a record the encoder never writes.
	b := []byte{recordV1, 0, 0, 0, 0, 0, 2, 1, 'b', 1, '1', 1, 'a', 1, '2'}
	if _, err := DecodeRecord(b); err == nil {
		t.Fatal("a record with keys out of order decoded")
	}
	b[8], b[12] = 'a', 'b'
	if _, err := DecodeRecord(b); err != nil {
		t.Fatalf("the same record in order: %v", err)
	}
}

// TestDecodeRecordDoesNotCopyValues: a session holding a large value that
// a request does not read costs that request no copy of it.
func TestDecodeRecordDoesNotCopyValues(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 64<<10)
	b := EncodeRecord(Record{Values: valuesOf(map[string][]byte{"count": []byte("1"), "pad": big})})
	allocated := testing.AllocsPerRun(20, func() {
		if _, err := DecodeRecord(b); err != nil {
			t.Fatal(err)
		}
	})
	r, _ := DecodeRecord(b)
	pad, _ := r.Values.Get("pad")
	if &pad[0] != &b[len(b)-len(big)] {
		t.Error("the decoded value is a copy, not the loaded bytes")
	}
	if allocated > 2 {
		t.Errorf("decoding allocates %v times; want the Values slice and the keys string only", allocated)
	}
}
