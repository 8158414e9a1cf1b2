package sessions_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// The package's error values read as plain errors in go doc: each is
// declared as a named value (a sentinel of the engine), never as a struct
// literal of an internal type.
func TestErrorValuesReadPlainInGoDoc(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, parser.ParseComments)
	require.NoError(t, err)
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !name.IsExported() {
				continue
			}
			n++
			assert.NotNil(t, vs.Doc, "%s has no doc comment", name.Name)
			assert.Nil(t, vs.Type, "%s declares a type: go doc shows it with the value", name.Name)
			if i < len(vs.Values) {
				_, sel := vs.Values[i].(*ast.SelectorExpr)
				assert.True(t, sel, "%s is not declared as a named value: go doc shows its expression", name.Name)
			}
		}
		return false
	})
	assert.Equal(t, 3, n, "exported values in errors.go")
}

// Each error value keeps its text, its ErrorType and its identity.
func TestErrorValues(t *testing.T) {
	for _, tc := range []struct {
		err       error
		text, typ string
	}{
		{sessions.ErrNoMiddleware, "sessions: no session middleware on this route (router.Use(sessions.FromEnv()))", "config"},
		{sessions.ErrConflict, "sessions: save: too many concurrent writers to this session; nothing was written", "conflict"},
		{sessions.ErrResponseWritten, "sessions: save: the response headers were already sent, so the session cookie could not be set", "headers_sent"},
	} {
		assert.EqualError(t, tc.err, tc.text)
		assert.Equal(t, tc.typ, sessions.ErrorType(tc.err), tc.text)
		wrapped := fmt.Errorf("handler: %w", tc.err)
		assert.ErrorIs(t, wrapped, tc.err)
		assert.Equal(t, tc.typ, sessions.ErrorType(wrapped), tc.text)
	}
}
