package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Marks keeps each account's sync mark in a JetStream key-value bucket
// beside the stream: the time up to which the account's events are on the
// stream. It lives apart from Redis so that an account whose Redis state
// is gone (Redis restarted without persistence, flushed, another database
// or key prefix) can be told from a new one.
type Marks struct {
	kv jetstream.KeyValue
}

// MarksBucket is the bucket of the marks of the accounts publishing to stream.
func MarksBucket(stream string) string { return stream + "_marks" }

// OpenMarks opens the marks bucket of stream, creating it when missing.
// replicas follows the stream's.
func OpenMarks(ctx context.Context, js jetstream.JetStream, stream string, replicas int) (*Marks, error) {
	kv, err := js.KeyValue(ctx, MarksBucket(stream))
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      MarksBucket(stream),
			Description: "threadsync: per-account sync marks of stream " + stream,
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
			History:     1,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("marks bucket %s: %w", MarksBucket(stream), err)
	}
	return &Marks{kv: kv}, nil
}

func markKey(provider, account string) (string, error) {
	if err := ValidToken("provider", provider); err != nil {
		return "", err
	}
	if err := ValidToken("account", account); err != nil {
		return "", err
	}
	return provider + "." + account, nil
}

// Mark records that the account's events up to t are on the stream.
func (m *Marks) Mark(ctx context.Context, provider, account string, t time.Time) error {
	k, err := markKey(provider, account)
	if err != nil {
		return err
	}
	if _, err := m.kv.Put(ctx, k, strconv.AppendInt(nil, t.UnixMilli(), 10)); err != nil {
		return fmt.Errorf("%w: mark %s/%s: %w", ErrPublish, provider, account, err)
	}
	return nil
}

// LastMark returns the account's mark; zero when it has none.
func (m *Marks) LastMark(ctx context.Context, provider, account string) (time.Time, error) {
	k, err := markKey(provider, account)
	if err != nil {
		return time.Time{}, err
	}
	e, err := m.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: read mark %s/%s: %w", ErrPublish, provider, account, err)
	}
	ms, err := strconv.ParseInt(string(e.Value()), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("mark %s/%s: %q is not a time", provider, account, e.Value())
	}
	return time.UnixMilli(ms).UTC(), nil
}
