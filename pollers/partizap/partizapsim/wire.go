package partizapsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// The wire shapes are partizap.md §3. Responses are written by hand from
// JSON fragments built once when a user, product or message is created
// (they never change), so serving a page of 100 conversations is mostly
// copying bytes.

// appendID writes an id as a JSON number, or a string with IDsAsStrings.
func (s *Server) appendID(b []byte, id int64) []byte {
	if s.cfg.IDsAsStrings {
		b = append(b, '"')
		b = strconv.AppendInt(b, id, 10)
		return append(b, '"')
	}
	return strconv.AppendInt(b, id, 10)
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// timeJSON is how a time leaves the simulator: Config.TimeLayout in
// Config.Location, as a JSON string.
func (s *Server) timeJSON(t time.Time) []byte {
	return appendString(nil, t.In(s.loc).Format(s.layout))
}

func (s *Server) newUser(id int64, name string, reviews, products int, created time.Time) *user {
	b := append([]byte(`{"id":`), s.appendID(nil, id)...)
	b = append(b, `,"display_name":`...)
	b = appendString(b, name)
	rating := "0.00"
	if reviews > 0 {
		rating = "4.85"
	}
	b = append(b, `,"avatar_url":null,"city_id":1,"rating":`...)
	b = appendString(b, rating)
	b = append(b, `,"reviews_count":`...)
	b = strconv.AppendInt(b, int64(reviews), 10)
	b = append(b, `,"products_count":`...)
	b = strconv.AppendInt(b, int64(products), 10)
	b = append(b, `,"created_at":`...)
	b = append(b, s.timeJSON(created)...)
	b = append(b, '}')
	return &user{id: id, name: name, json: b}
}

func (s *Server) newProduct(v *vendor, id int64, title string, price int) *product {
	b := append([]byte(`{"id":`), s.appendID(nil, id)...)
	b = append(b, `,"title":`...)
	b = appendString(b, title)
	b = append(b, `,"price":`...)
	b = strconv.AppendInt(b, int64(price), 10)
	b = append(b, `,"steering":"left","city_id":1,"region_id":77,"district_id":0,"metro_station_id":0,"metro_distance_m":0,"address_id":"a-17","images":[{"id":`...)
	b = s.appendID(b, id*10)
	img := "https://s3.partizap.invalid/products/" + strconv.FormatInt(id, 10)
	for _, f := range []struct{ key, size, ext string }{
		{"thumbnail_webp", "t", "webp"}, {"thumbnail_jpeg", "t", "jpg"},
		{"medium_webp", "m", "webp"}, {"medium_jpeg", "m", "jpg"},
		{"large_webp", "l", "webp"}, {"large_jpeg", "l", "jpg"},
	} {
		b = append(b, `,"`+f.key+`":"`+img+"/"+f.size+"."+f.ext+`"`...)
	}
	b = append(b, `,"status":"ready","is_primary":true,"sort_order":0}],"seller":`...)
	b = append(b, v.user.json...)
	b = append(b, `,"published_at":`...)
	b = append(b, s.timeJSON(time.Date(2024, 2, 10, 9, 0, 0, 0, time.UTC))...)
	b = append(b, '}')
	return &product{id: id, title: title, json: b}
}

// encodeMessage builds the two immutable parts of a message's JSON.
func (s *Server) encodeMessage(m *message, convID int64) {
	b := append([]byte(`{"id":`), s.appendID(nil, m.id)...)
	b = append(b, `,"conversation_id":`...)
	b = s.appendID(b, convID)
	b = append(b, `,"sender_id":`...)
	b = s.appendID(b, m.sender)
	b = append(b, `,"text":`...)
	b = appendString(b, m.text)
	b = append(b, `,"image_url":`...)
	if m.imageURL == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, m.imageURL)
	}
	b = append(b, `,"is_read":`...)
	m.pre = b
	p := append([]byte(`,"is_delivered":true,"created_at":`), s.timeJSON(m.at)...)
	m.post = append(p, '}')
}

// appendMessage writes message i of c. Call with the vendor's mu held.
func appendMessage(b []byte, c *conv, i int) []byte {
	m := c.msgs[i]
	b = append(b, m.pre...)
	b = strconv.AppendBool(b, c.isRead(i))
	return append(b, m.post...)
}

// appendConv writes a conversation. Call with the vendor's mu held.
func (s *Server) appendConv(b []byte, v *vendor, c *conv) []byte {
	b = append(b, `{"id":`...)
	b = s.appendID(b, c.id)
	b = append(b, `,"product_id":`...)
	b = s.appendID(b, c.product.id)
	b = append(b, `,"product":`...)
	b = append(b, c.product.json...)
	b = append(b, `,"participants":[`...)
	b = append(b, v.user.json...)
	b = append(b, ',')
	b = append(b, c.buyer.json...)
	b = append(b, `],"last_message":`...)
	if n := len(c.msgs); n > 0 {
		b = appendMessage(b, c, n-1)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"unread_count":`...)
	b = strconv.AppendInt(b, int64(c.unread), 10)
	b = append(b, `,"created_at":`...)
	b = append(b, c.createdJSON...)
	b = append(b, `,"updated_at":`...)
	b = append(b, c.updatedJSON...)
	return append(b, '}')
}

// appendMeta closes a list: `],"meta":{...}}`.
func appendMeta(b []byte, next string) []byte {
	if next == "" {
		return append(b, `],"meta":{"has_more":false,"next_cursor":null}}`...)
	}
	b = append(b, `],"meta":{"has_more":true,"next_cursor":`...)
	b = appendString(b, next)
	return append(b, "}}"...)
}

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// getBuf returns a pooled buffer; putBuf gives it back.
func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	// Huge bodies should not stay pinned in the pool.
	if cap(*b) <= 1<<20 {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// writeBody sends a JSON body with its Content-Length.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	sim.WriteBody(w, status, "application/json", body)
}

// writeError sends a Laravel-style error: {"message": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	b := appendString([]byte(`{"message":`), msg)
	writeBody(w, status, append(b, '}'))
}

// writeValidation sends a Laravel-style 422: the message and the same
// message under the offending field.
func writeValidation(w http.ResponseWriter, field, msg string) {
	var buf bytes.Buffer
	buf.WriteString(`{"message":`)
	buf.Write(appendString(nil, msg))
	buf.WriteString(`,"errors":{`)
	buf.Write(appendString(nil, field))
	buf.WriteString(`:[`)
	buf.Write(appendString(nil, msg))
	buf.WriteString(`]}}`)
	writeBody(w, http.StatusUnprocessableEntity, buf.Bytes())
}
