package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// natsOptions are the connection options the settings ask for: name,
// endless reconnects, credentials, NKey, user/password and TLS.
func natsOptions(cfg *Config, log *slog.Logger) []nats.Option {
	opts := []nats.Option{
		nats.Name("threadsync"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close
				log.Warn("NATS disconnected; reconnecting", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted())
		}),
	}
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	if cfg.NATSNKey != "" {
		if o, err := nats.NkeyOptionFromSeed(cfg.NATSNKey); err == nil {
			opts = append(opts, o)
		} else {
			// Reported when connecting, without the seed's content.
			opts = append(opts, func(*nats.Options) error { return fmt.Errorf("NATS_NKEY: %w", errors.Unwrap(err)) })
		}
	}
	if cfg.NATSUser != "" || cfg.NATSPassword != "" {
		opts = append(opts, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword))
	}
	if cfg.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSTLSCA))
	}
	if cfg.NATSTLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.NATSTLSCert, cfg.NATSTLSKey))
	}
	return opts
}

// connectNATS connects, waiting for a server that is not up yet, and keeps
// reconnecting for ever once connected.
func connectNATS(ctx context.Context, url string, cfg *Config, log *slog.Logger) (*nats.Conn, error) {
	// The first attempt blocks for up to a dial timeout per server.
	nc, err := await(ctx, func() (*nats.Conn, error) { return nats.Connect(url, natsOptions(cfg, log)...) }, (*nats.Conn).Close)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("NATS: %w", err)
	}
	for !nc.IsConnected() {
		log.Warn("waiting for NATS", "servers", nc.Servers())
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	return nc, nil
}

// redisOptions parses REDIS_URL and applies the credential and TLS settings.
func redisOptions(cfg *Config) (*redis.Options, error) {
	o, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, errors.New("REDIS_URL is not a valid Redis URL")
	}
	if cfg.RedisUser != "" {
		o.Username = cfg.RedisUser
	}
	if cfg.RedisPassword != "" {
		o.Password = cfg.RedisPassword
	}
	if cfg.RedisTLSCA != "" || cfg.RedisTLSCert != "" {
		if o.TLSConfig == nil {
			o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: hostOnly(o.Addr)}
		}
		if cfg.RedisTLSCA != "" {
			pem, err := os.ReadFile(cfg.RedisTLSCA)
			if err != nil {
				return nil, fmt.Errorf("REDIS_TLS_CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("REDIS_TLS_CA: %s holds no PEM certificate", cfg.RedisTLSCA)
			}
			o.TLSConfig.RootCAs = pool
		}
		if cfg.RedisTLSCert != "" {
			cert, err := tls.LoadX509KeyPair(cfg.RedisTLSCert, cfg.RedisTLSKey)
			if err != nil {
				return nil, fmt.Errorf("REDIS_TLS_CERT/REDIS_TLS_KEY: %w", err)
			}
			o.TLSConfig.Certificates = []tls.Certificate{cert}
		}
	}
	return o, nil
}

func hostOnly(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i]
		}
	}
	return addr
}

func waitRedis(ctx context.Context, rdb *redis.Client, log *slog.Logger) error {
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		log.Warn("waiting for Redis", "addr", rdb.Options().Addr, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// redisLogger routes go-redis' own messages (connection pool dial failures,
// repeated for every attempt) to the debug log: the engine already says
// once, clearly, that it is waiting for Redis.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "go-redis")
}
