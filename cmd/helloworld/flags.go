package main

import (
	"errors"
	"time"
)

// durationFlag is a time.Duration flag whose parse error says what form
// is expected (the flag package adds the flag's name and the value).
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }

// Set parses a Go duration such as 100ms or 10s.
func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 100ms, 2s or 1m30s")
	}
	*d = durationFlag(v)
	return nil
}
