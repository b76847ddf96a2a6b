package events

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Follow hands every event stored on the stream, from the first, to fn
// until ctx ends, in order. A stream that does not exist yet is waited for,
// with waiting called every second meanwhile. It returns nil when ctx ends
// once the events are followed, ctx's error when it ends before.
func Follow(ctx context.Context, js jetstream.JetStream, stream string, waiting func(error), fn func(raw []byte)) error {
	var s jetstream.Stream
	for {
		var err error
		if s, err = js.Stream(ctx, stream); err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		waiting(err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { fn(m.Data()) })
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}
