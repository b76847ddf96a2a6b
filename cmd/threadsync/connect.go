package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/internal/connect"
)

// connectNATS connects to url with the settings' credentials and TLS,
// waiting for a server that is not up yet.
func connectNATS(ctx context.Context, url string, cfg *Config, log *slog.Logger) (*nats.Conn, error) {
	return connect.NATS{
		Name: "threadsync", Creds: cfg.NATSCreds, NKey: cfg.NATSNKey, User: cfg.NATSUser, Password: cfg.NATSPassword,
		TLSCA: cfg.NATSTLSCA, TLSCert: cfg.NATSTLSCert, TLSKey: cfg.NATSTLSKey,
	}.Connect(ctx, url, log)
}

// redisOptions parses REDIS_URL and applies the credential and TLS settings.
func redisOptions(cfg *Config) (*redis.Options, error) {
	return connect.Redis{
		URL: cfg.RedisURL, User: cfg.RedisUser, Password: cfg.RedisPassword,
		TLSCA: cfg.RedisTLSCA, TLSCert: cfg.RedisTLSCert, TLSKey: cfg.RedisTLSKey,
	}.Options()
}
