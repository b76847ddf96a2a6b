package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
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

// openStream connects to NATS at url and creates or updates the stream; it
// returns the stream's publisher and the settings that put events at risk.
func openStream(ctx context.Context, url string, cfg *Config, log *slog.Logger) (*nats.Conn, *events.Publisher, []string, error) {
	nc, err := connectNATS(ctx, url, cfg, log)
	if err != nil {
		return nil, nil, nil, err
	}
	pub, err := events.NewPublisher(nc, events.PublisherConfig{MaxInFlight: cfg.MaxInFlight, Timeout: cfg.PublishTimeout})
	var warnings []string
	if err == nil {
		warnings, err = events.EnsureStream(ctx, pub.JetStream(), events.StreamConfig{
			Name: cfg.Stream, SubjectPrefix: cfg.SubjectPrefix, Duplicates: cfg.DuplicateWindow,
		})
	}
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	return nc, pub, warnings, nil
}

// openStore connects to Redis, waiting for it when it is not up yet, and
// opens the checkpoint store.
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (*redis.Client, *checkpoint.Store, error) {
	ropts, err := redisOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	redis.SetLogger(connect.RedisLogger{Log: log})
	rdb := redis.NewClient(ropts)
	if err := connect.WaitRedis(ctx, rdb, log); err != nil {
		rdb.Close()
		return nil, nil, err
	}
	store, err := checkpoint.New(rdb, cfg.KeyPrefix)
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return rdb, store, nil
}
