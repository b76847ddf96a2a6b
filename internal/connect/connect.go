// Package connect connects the commands to NATS and Redis with the
// credentials and TLS settings they are given, waiting for a server that is
// not up yet rather than failing.
package connect

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

// NATS is how to authenticate to NATS; every field is optional. The
// errors name the variables the fields come from (NATS_NKEY, …).
type NATS struct {
	Name           string // the client name servers show
	Creds, NKey    string // files: a .creds file, an NKey seed
	User, Password string
	TLSCA          string // files, PEM
	TLSCert        string
	TLSKey         string
}

// Options are the connection options n asks for, with endless reconnects
// logged on log.
func (n NATS) Options(log *slog.Logger) []nats.Option {
	opts := []nats.Option{
		nats.Name(n.Name),
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
	if n.Creds != "" {
		opts = append(opts, nats.UserCredentials(n.Creds))
	}
	if n.NKey != "" {
		if o, err := nats.NkeyOptionFromSeed(n.NKey); err == nil {
			opts = append(opts, o)
		} else {
			// Reported when connecting, without the seed's content.
			opts = append(opts, func(*nats.Options) error { return fmt.Errorf("NATS_NKEY: %w", errors.Unwrap(err)) })
		}
	}
	if n.User != "" || n.Password != "" {
		opts = append(opts, nats.UserInfo(n.User, n.Password))
	}
	if n.TLSCA != "" {
		opts = append(opts, nats.RootCAs(n.TLSCA))
	}
	if n.TLSCert != "" {
		opts = append(opts, nats.ClientCert(n.TLSCert, n.TLSKey))
	}
	return opts
}

// Connect connects to url, waiting for a server that is not up yet, and
// keeps reconnecting for ever once connected.
func (n NATS) Connect(ctx context.Context, url string, log *slog.Logger) (*nats.Conn, error) {
	// The first attempt blocks for up to a dial timeout per server.
	nc, err := Await(ctx, func() (*nats.Conn, error) { return nats.Connect(url, n.Options(log)...) }, (*nats.Conn).Close)
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

// Redis is where and how to reach Redis: a redis://, rediss:// or unix://
// URL, credentials that override the URL's, and TLS files (PEM).
type Redis struct {
	URL             string
	User, Password  string
	TLSCA           string
	TLSCert, TLSKey string
}

// Options parses the URL and applies the credentials and TLS settings.
func (r Redis) Options() (*redis.Options, error) {
	o, err := redis.ParseURL(r.URL)
	if err != nil {
		return nil, errors.New("REDIS_URL is not a valid Redis URL")
	}
	if r.User != "" {
		o.Username = r.User
	}
	if r.Password != "" {
		o.Password = r.Password
	}
	if r.TLSCA != "" || r.TLSCert != "" {
		if o.TLSConfig == nil {
			o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: hostOnly(o.Addr)}
		}
		if r.TLSCA != "" {
			pem, err := os.ReadFile(r.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("REDIS_TLS_CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("REDIS_TLS_CA: %s holds no PEM certificate", r.TLSCA)
			}
			o.TLSConfig.RootCAs = pool
		}
		if r.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(r.TLSCert, r.TLSKey)
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

// WaitRedis returns once Redis answers, saying on log what it waits for.
func WaitRedis(ctx context.Context, rdb *redis.Client, log *slog.Logger) error {
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

// RedisLogger routes go-redis' own messages (connection pool dial
// failures, repeated for every attempt) to the debug log: the commands
// already say once, clearly, that they wait for Redis.
type RedisLogger struct{ Log *slog.Logger }

func (l RedisLogger) Printf(_ context.Context, format string, v ...any) {
	l.Log.Debug(fmt.Sprintf(format, v...), "component", "go-redis")
}

// Await runs a step that takes no context and returns its result, or
// ctx's error as soon as ctx is cancelled, so that a stop is prompt even
// while the step blocks. A result that comes after that is given to undo.
func Await[T any](ctx context.Context, step func() (T, error), undo func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := step()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				undo(r.v)
			}
		}()
		var zero T
		return zero, ctx.Err()
	}
}
