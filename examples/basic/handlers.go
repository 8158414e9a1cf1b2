package main

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
)

// The route handlers. Each answers HTML, or JSON when the client prefers it
// (wantsJSON); forms post, and a successful post redirects (303) to a page,
// so a reload never posts twice.

// maxUserName bounds the user name typed into the login form, in
// characters.
const maxUserName = 64

// home counts the visit and shows who is logged in, the flash message and,
// for a visitor, the login form.
func home(c *gin.Context) {
	if sessions.LoadError(c) != nil {
		storeDown(c)
		return
	}
	flash, _ := sessions.Pop[string](c, "flash")
	// Update is atomic across requests and instances: two tabs reloading at
	// once both count. It saves now, with the flash's removal.
	visits, err := sessions.Update(c, "visits", func(cur int, ok bool) int { return cur + 1 })
	if err != nil {
		storeDown(c)
		return
	}
	user := sessions.User(c)
	if wantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"visits": visits, "user": user, "logged_in": user != "", "flash": flash, "csrf_token": sessions.CSRFToken(c)})
		return
	}
	render(c, http.StatusOK, "home", pageData{Title: "Home", User: user, Flash: flash, Visits: visits})
}

// loginPage shows the login form on its own, for the links of the other
// pages.
func loginPage(c *gin.Context) {
	if sessions.LoadError(c) != nil {
		storeDown(c)
		return
	}
	user := sessions.User(c)
	if wantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"user": user, "logged_in": user != "", "csrf_token": sessions.CSRFToken(c)})
		return
	}
	render(c, http.StatusOK, "login", pageData{Title: "Log in", User: user})
}

// login starts the user's session: a new ID (Refresh), the "remember me"
// choice (RememberMe), the binding to the user (SetUser) and a welcome
// message, then a redirect home. There is no password: the example is
// about sessions, not about checking credentials.
func login(c *gin.Context) {
	name := strings.TrimSpace(c.PostForm("user"))
	remember := checked(c.PostForm("remember"))
	if problem := checkUserName(name); problem != "" {
		if wantsJSON(c) {
			c.JSON(http.StatusBadRequest, gin.H{"error": problem})
			return
		}
		render(c, http.StatusBadRequest, "login", pageData{Title: "Log in", Error: problem, Name: name, Remember: remember})
		return
	}
	if sessions.LoadError(c) != nil {
		storeDown(c)
		return
	}
	// A new session ID at every change of privilege: an ID an attacker may
	// have planted before the login is dead from here on.
	if err := sessions.Refresh(c); err != nil {
		storeDown(c)
		return
	}
	// Checked: a persistent cookie that outlives the browser; unchecked: a
	// browser-session cookie. The server enforces the lifetime either way.
	sessions.RememberMe(c, remember)
	// Bind the session to the user, so "your devices" lists it and "log out
	// other devices" can end the others.
	if err := sessions.SetUser(c, name); err != nil {
		storeDown(c)
		return
	}
	sessions.Set(c, "flash", "welcome, "+name)
	redirect(c, "/")
}

// logout ends the session (Destroy) and says so on the home page, from a
// new, anonymous session.
func logout(c *gin.Context) {
	if err := sessions.Destroy(c); err != nil {
		storeDown(c)
		return
	}
	sessions.Set(c, "flash", "logged out")
	redirect(c, "/")
}

// device is one of the user's sessions as the devices page shows it.
type device struct {
	IDHash    string    `json:"id_hash"`
	Name      string    `json:"name"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	Expires   time.Time `json:"expires"`
	Current   bool      `json:"current"`
}

// devicesPage lists the signed-in user's sessions, from every instance of
// the app that shares the backend, most recently used first.
func devicesPage(c *gin.Context) {
	if sessions.LoadError(c) != nil {
		storeDown(c)
		return
	}
	user := sessions.User(c)
	if user == "" {
		notLoggedIn(c)
		return
	}
	list, err := sessions.ManagerOf(c).UserSessions(c.Request.Context(), user)
	if errors.Is(err, sessions.ErrNoUserIndex) {
		noUserIndex(c)
		return
	}
	if err != nil {
		storeDown(c)
		return
	}
	current := sessions.IDHash(c)
	devices := make([]device, 0, len(list))
	for _, s := range list {
		devices = append(devices, device{IDHash: s.IDHash, Name: deviceName(s.UserAgent), UserAgent: s.UserAgent, IP: s.IP,
			Created: s.Created, LastSeen: s.LastSeen, Expires: s.Expires, Current: s.IDHash == current})
	}
	flash, _ := sessions.Pop[string](c, "flash")
	if !saved(c) {
		return
	}
	if wantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"user": user, "devices": devices, "flash": flash, "csrf_token": sessions.CSRFToken(c)})
		return
	}
	render(c, http.StatusOK, "devices", pageData{Title: "Your devices", User: user, Flash: flash, Devices: devices})
}

// logoutDevice ends one other session of the user, named by its IDHash
// ("log out this device").
func logoutDevice(c *gin.Context) {
	if sessions.LoadError(c) != nil {
		storeDown(c)
		return
	}
	user := sessions.User(c)
	if user == "" {
		notLoggedIn(c)
		return
	}
	target := c.PostForm("device")
	if target == "" || target == sessions.IDHash(c) {
		problem := "Choose one of your other devices. To end the session of this one, log out."
		if wantsJSON(c) {
			c.JSON(http.StatusBadRequest, gin.H{"error": problem})
			return
		}
		message(c, http.StatusBadRequest, "Which device?", problem, "/devices", "Back to your devices")
		return
	}
	ended, err := sessions.ManagerOf(c).RevokeSession(c.Request.Context(), user, target)
	if errors.Is(err, sessions.ErrNoUserIndex) {
		noUserIndex(c)
		return
	}
	if err != nil {
		storeDown(c)
		return
	}
	if ended {
		sessions.Set(c, "flash", "device logged out")
	} else {
		sessions.Set(c, "flash", "that device was already logged out")
	}
	redirect(c, "/devices")
}

// logoutOtherDevices ends every session of the user but this one.
func logoutOtherDevices(c *gin.Context) {
	if sessions.LoadError(c) != nil {
		storeDown(c)
		return
	}
	if sessions.User(c) == "" {
		notLoggedIn(c)
		return
	}
	n, err := sessions.RevokeOtherSessions(c)
	if errors.Is(err, sessions.ErrNoUserIndex) {
		noUserIndex(c)
		return
	}
	if err != nil {
		storeDown(c)
		return
	}
	if n == 0 {
		sessions.Set(c, "flash", "no other device was logged in")
	} else {
		sessions.Set(c, "flash", "other devices logged out")
	}
	redirect(c, "/devices")
}

// redirect saves the session now, so that a store failure gets the
// "try again" page rather than the middleware's plain 500, then sends the
// client to path with 303 See Other: the browser follows with a GET, and
// a reload of the page it lands on does not post the form again.
func redirect(c *gin.Context, path string) {
	if saved(c) {
		c.Redirect(http.StatusSeeOther, path)
	}
}

// saved commits the session's pending changes; on failure it answers with
// the store-down page and reports false.
func saved(c *gin.Context) bool {
	if err := sessions.Save(c); err != nil {
		storeDown(c)
		return false
	}
	return true
}

// checked reports whether a checkbox's form value means "checked".
func checked(v string) bool {
	switch strings.ToLower(v) {
	case "on", "1", "true", "yes":
		return true
	}
	return false
}

// checkUserName returns why name cannot be a user name, or "".
func checkUserName(name string) string {
	switch {
	case name == "":
		return "user is required"
	case utf8.RuneCountInString(name) > maxUserName:
		return "the user name is too long (64 characters at most)"
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return "the user name holds characters that cannot be shown"
	}
	return ""
}

// deviceName turns a user agent into a short, readable device name, such
// as "Firefox on Windows" or "Chrome on Android". The full user agent is
// shown beside it.
func deviceName(ua string) string {
	if ua == "" {
		return "Unknown device"
	}
	contains := func(s string) bool { return strings.Contains(ua, s) }
	var browser string
	switch {
	case strings.HasPrefix(ua, "curl/"):
		return "curl"
	case strings.HasPrefix(ua, "Go-http-client/"):
		return "Go HTTP client"
	case contains("Edg/"):
		browser = "Edge"
	case contains("OPR/"):
		browser = "Opera"
	case contains("Firefox/"), contains("FxiOS/"):
		browser = "Firefox"
	case contains("HeadlessChrome/"):
		browser = "Headless Chrome"
	case contains("Chrome/"), contains("CriOS/"):
		browser = "Chrome"
	case contains("Safari/"):
		browser = "Safari"
	default:
		return "Other device"
	}
	var system string
	switch {
	case contains("Android"):
		system = "Android"
	case contains("iPhone"):
		system = "iPhone"
	case contains("iPad"):
		system = "iPad"
	case contains("Windows"):
		system = "Windows"
	case contains("CrOS"):
		system = "ChromeOS"
	case contains("Mac OS X"), contains("Macintosh"):
		system = "macOS"
	case contains("Linux"):
		system = "Linux"
	default:
		return browser
	}
	return browser + " on " + system
}
