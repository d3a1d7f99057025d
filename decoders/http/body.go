package http

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

var errTooLarge = errors.New("decoded body exceeds max_message_size")

// decodeBody undoes the content codings of a kept body (last applied
// first). Output is capped at maxSize, so a small compressed body cannot
// expand into gigabytes (zip bomb); past the cap the partial output is
// returned with an error that becomes a note.
func decodeBody(body []byte, encodings [][]byte, maxSize int) ([]byte, error) {
	for i := len(encodings) - 1; i >= 0; i-- {
		enc := encodings[i]
		out, err := decodeOne(body, enc, maxSize)
		if err != nil {
			if i != 0 {
				out = nil // an inner coding is still applied: nothing readable
			}
			return out, fmt.Errorf("unable to decode body using %s encoding: %w", enc, err)
		}
		body = out
	}
	return body, nil
}

func decodeOne(body, enc []byte, maxSize int) ([]byte, error) {
	var r io.Reader
	switch {
	case asciiEqualFold(enc, "gzip"), asciiEqualFold(enc, "x-gzip"):
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case asciiEqualFold(enc, "deflate"):
		// "deflate" means zlib (RFC 9110 8.4.1.2), but some servers send raw
		// DEFLATE: accept both.
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			defer zr.Close()
			r = zr
		} else {
			fr := flate.NewReader(bytes.NewReader(body))
			defer fr.Close()
			r = fr
		}
	default:
		return body, fmt.Errorf("unsupported encoding")
	}
	var out bytes.Buffer
	out.Grow(min(maxSize, 4*len(body)+512))
	n, err := io.Copy(&out, io.LimitReader(r, int64(maxSize)+1))
	if n > int64(maxSize) {
		return out.Bytes()[:maxSize], errTooLarge
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return out.Bytes(), err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return out.Bytes(), errors.New("truncated compressed data")
	}
	return out.Bytes(), nil
}
