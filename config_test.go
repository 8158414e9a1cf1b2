package sessions_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

func clearSessionEnv(t *testing.T) {
	for _, v := range []string{sessions.EnvDSN, sessions.EnvLifetime, sessions.EnvAbsoluteLifetime, sessions.EnvCookieName,
		sessions.EnvPath, sessions.EnvDomain, sessions.EnvSecure, sessions.EnvHTTPOnly, sessions.EnvSameSite, sessions.EnvExpireOnClose,
		sessions.EnvPartitioned, sessions.EnvMaxPerUser} {
		t.Setenv(v, "")
	}
}

func TestConfigFromEnvDefaults(t *testing.T) {
	clearSessionEnv(t)
	cfg, err := sessions.ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "", cfg.DSN, "empty DSN: memory://")
	assert.Equal(t, 120*time.Minute, cfg.Lifetime)
	assert.Equal(t, time.Duration(0), cfg.AbsoluteLifetime)
	assert.Equal(t, "session", cfg.CookieName)
	assert.Equal(t, "/", cfg.Path)
	assert.False(t, cfg.ScriptAccess, "HttpOnly")
	assert.False(t, cfg.Secure)
	assert.Equal(t, sessions.DefaultMaxSessionsPerUser, cfg.MaxSessionsPerUser)
	assert.Equal(t, http.SameSiteLaxMode, cfg.SameSite)
}

func TestConfigFromEnvValues(t *testing.T) {
	clearSessionEnv(t)
	t.Setenv("SESSION_DSN", "redis://localhost:6379/2")
	t.Setenv("SESSION_LIFETIME", "90")
	t.Setenv("SESSION_ABSOLUTE_LIFETIME", "12h")
	t.Setenv("SESSION_COOKIE_NAME", "sid")
	t.Setenv("SESSION_PATH", "/app")
	t.Setenv("SESSION_DOMAIN", "example.com")
	t.Setenv("SESSION_SECURE_COOKIE", "true")
	t.Setenv("SESSION_HTTP_ONLY", "false")
	t.Setenv("SESSION_SAME_SITE", "None")
	t.Setenv("SESSION_EXPIRE_ON_CLOSE", "1")
	t.Setenv("SESSION_PARTITIONED", "true")
	cfg, err := sessions.ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "redis://localhost:6379/2", cfg.DSN)
	assert.Equal(t, 90*time.Minute, cfg.Lifetime, "a bare integer means minutes")
	assert.Equal(t, 12*time.Hour, cfg.AbsoluteLifetime)
	assert.Equal(t, "sid", cfg.CookieName)
	assert.Equal(t, "/app", cfg.Path)
	assert.Equal(t, "example.com", cfg.Domain)
	assert.True(t, cfg.Secure)
	assert.True(t, cfg.ScriptAccess, "SESSION_HTTP_ONLY=false")
	assert.Equal(t, http.SameSiteNoneMode, cfg.SameSite)
	assert.True(t, cfg.ExpireOnClose)
	assert.True(t, cfg.Partitioned)

	t.Setenv("SESSION_MAX_PER_USER", "5")
	cfg, err = sessions.ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, 5, cfg.MaxSessionsPerUser)
	t.Setenv("SESSION_MAX_PER_USER", "-1")
	cfg, err = sessions.ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, -1, cfg.MaxSessionsPerUser, "negative: no cap")

	t.Setenv("SESSION_LIFETIME", "1h30m")
	cfg, err = sessions.ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, 90*time.Minute, cfg.Lifetime, "a Go duration")
}

func TestConfigFromEnvErrors(t *testing.T) {
	cases := []struct{ name, value, want string }{
		{"SESSION_LIFETIME", "soon", `SESSION_LIFETIME="soon"`},
		{"SESSION_LIFETIME", "-5", `SESSION_LIFETIME="-5"`},
		{"SESSION_LIFETIME", "0", `SESSION_LIFETIME="0"`},
		{"SESSION_ABSOLUTE_LIFETIME", "-1h", `SESSION_ABSOLUTE_LIFETIME="-1h"`},
		{"SESSION_SECURE_COOKIE", "yes please", `SESSION_SECURE_COOKIE="yes please"`},
		{"SESSION_HTTP_ONLY", "maybe", `SESSION_HTTP_ONLY="maybe"`},
		{"SESSION_EXPIRE_ON_CLOSE", "2", `SESSION_EXPIRE_ON_CLOSE="2"`},
		{"SESSION_SAME_SITE", "loose", `SESSION_SAME_SITE="loose"`},
		{"SESSION_COOKIE_NAME", "bad name;", `cookie name "bad name;"`},
		{"SESSION_PATH", "relative", `cookie path "relative"`},
		{"SESSION_MAX_PER_USER", "ten", `SESSION_MAX_PER_USER="ten"`},
		{"SESSION_MAX_PER_USER", "1.5", `SESSION_MAX_PER_USER="1.5"`},
		{"SESSION_MAX_PER_USER", "5000", `MaxSessionsPerUser 5000 (SESSION_MAX_PER_USER) is over 1000`},
	}
	for _, tc := range cases {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			clearSessionEnv(t)
			t.Setenv(tc.name, tc.value)
			_, err := sessions.ConfigFromEnv()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want, "the error names the variable and quotes the value")
		})
	}
	t.Run("SameSiteNoneNeedsSecure", func(t *testing.T) {
		clearSessionEnv(t)
		t.Setenv("SESSION_SAME_SITE", "none")
		_, err := sessions.ConfigFromEnv()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "SameSite=None requires a Secure cookie")
	})
	t.Run("PartitionedNeedsSecure", func(t *testing.T) {
		clearSessionEnv(t)
		t.Setenv("SESSION_PARTITIONED", "true")
		_, err := sessions.ConfigFromEnv()
		require.Error(t, err)
		assert.Contains(t, err.Error(), `SESSION_PARTITIONED="true"`, "the error names the variable and quotes its value")
		assert.Contains(t, err.Error(), "SESSION_SECURE_COOKIE=true", "the error names both variables")
	})
}

func TestNewManagerDefaultsAndValidation(t *testing.T) {
	m, err := sessions.NewManager(sessions.Config{})
	require.NoError(t, err)
	defer m.Close()
	cfg := m.Config()
	assert.Equal(t, sessions.DefaultLifetime, cfg.Lifetime)
	assert.Equal(t, "session", cfg.CookieName)
	assert.Equal(t, http.SameSiteLaxMode, cfg.SameSite)
	assert.Equal(t, sessions.DefaultLifetime/10, cfg.TouchInterval)

	_, err = sessions.NewManager(sessions.Config{SameSite: http.SameSiteNoneMode})
	assert.ErrorContains(t, err, "SameSite=None requires a Secure cookie")
	_, err = sessions.NewManager(sessions.Config{Partitioned: true})
	assert.ErrorContains(t, err, "requires a Secure one")
	_, err = sessions.NewManager(sessions.Config{Lifetime: -time.Second})
	assert.ErrorContains(t, err, "Lifetime")
	_, err = sessions.NewManager(sessions.Config{DSN: "redis://:hunter2@%zz"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}
