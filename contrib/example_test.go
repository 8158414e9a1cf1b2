package contrib_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	ginsessions "github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions/contrib"
)

// An application written against gin-contrib/sessions changes one line,
// the store's construction, and keeps its handlers.
func ExampleNewStore() {
	store, err := contrib.NewStore("memory://") // or os.Getenv("SESSION_DSN")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.(*contrib.Store).Close()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(ginsessions.Sessions("mysession", store)) // unchanged
	r.GET("/incr", func(c *gin.Context) {
		s := ginsessions.Default(c)
		n, _ := s.Get("count").(int)
		n++
		s.Set("count", n)
		if err := s.Save(); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.String(http.StatusOK, "count %d", n)
	})

	var cookie *http.Cookie
	for range 2 {
		req := httptest.NewRequest("GET", "/incr", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if cs := rec.Result().Cookies(); len(cs) > 0 {
			cookie = cs[0]
		}
		b, _ := io.ReadAll(rec.Body)
		fmt.Println(string(b))
	}
	// Output:
	// count 1
	// count 2
}
